import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction

from accounts.demo import DEMO_USERS
from accounts.models import Membership, Organisation, Role, User
from cases.models import PlanPeriod, PlanPriority

pytestmark = pytest.mark.django_db

KOMMUNKODER = {
    "2021": "Vansbro",
    "2023": "Malung-Sälen",
    "2026": "Gagnef",
    "2029": "Leksand",
    "2031": "Rättvik",
    "2034": "Orsa",
    "2039": "Älvdalen",
    "2061": "Smedjebacken",
    "2062": "Mora",
    "2080": "Falun",
    "2081": "Borlänge",
    "2082": "Säter",
    "2083": "Hedemora",
    "2084": "Avesta",
    "2085": "Ludvika",
}


def test_region_and_fifteen_municipalities_are_loaded():
    assert Organisation.objects.get(kind="region").name == "Region Dalarna"
    municipalities = Organisation.objects.filter(kind="municipality")
    assert {m.kommunkod: m.name for m in municipalities} == KOMMUNKODER
    assert Organisation.history.filter(history_type="+").count() == 16


def test_kommunkod_is_unique():
    with pytest.raises(IntegrityError), transaction.atomic():
        Organisation.objects.create(kind="municipality", name="Falun igen", kommunkod="2080")


def test_plan_periods_and_priorities():
    old = PlanPeriod.objects.get(name="2019–2022")
    current = PlanPeriod.objects.get(name="2023–2026")
    assert not old.is_active and current.is_active
    assert (current.starts_on.isoformat(), current.ends_on.isoformat()) == ("2023-01-01", "2026-12-31")
    titles = list(PlanPriority.objects.filter(plan_period=current).values_list("title", flat=True))
    assert len(titles) == 4
    assert any("chefsnätverk" in t for t in titles)
    assert any("kulturskolor" in t for t in titles)


def test_seed_demo_is_idempotent(capsys):
    call_command("seed_demo")
    first = capsys.readouterr().out
    counts = (User.objects.count(), Membership.objects.count(), User.history.count(), Membership.history.count())
    call_command("seed_demo")
    assert (
        User.objects.count(),
        Membership.objects.count(),
        User.history.count(),
        Membership.history.count(),
    ) == counts
    assert "samverkan-demo-2026" in first
    # The demo municipalities' 2019–2022 agreements come from the spreadsheet in the repository,
    # imported once through the coordinators' import.
    from cases.models import Agreement, Stage

    earlier = Agreement.objects.filter(plan_period__name="2019–2022")
    assert earlier.count() == 6 and set(earlier.values_list("stage", flat=True)) == {Stage.CLOSED}
    assert {r.history_change_reason for r in Agreement.history.filter(plan_period__name="2019–2022")} == {
        "Importerad från overenskommelser-2019-2022.csv"
    }
    assert "Earlier agreements (2019–2022) imported: 6." in first
    assert User.objects.filter(email__in=[u[0] for u in DEMO_USERS]).count() == len(DEMO_USERS)
    roles = set(Membership.objects.values_list("role", flat=True))
    assert roles == set(Role)
    assert Membership.objects.filter(role=Role.CULTURAL_HEAD, organisation__name="Falun").exists()
    assert Membership.objects.filter(role=Role.CULTURAL_HEAD, organisation__name="Mora").exists()
    assert Membership.objects.filter(role=Role.OFFICIAL, organisation__name="Mora").exists()
