"""Coverage of the plan priorities over HTTP: per priority, the municipalities
(and their areas) that link to it, and the priorities no municipality has
taken up. Withdrawn agreements and removed areas do not count."""

import pytest
from django.urls import reverse

from cases.agreements import services as case_services
from cases.models import PlanPriority, Stage
from tests.factories import agreement_in_stage, current_period
from tests.workflows.helpers import login
from workflows import services as flow_services
from workflows.runner import run_step

pytestmark = pytest.mark.django_db
URL = reverse("workflows:coverage")


def priority(code):
    return PlanPriority.objects.get(plan_period=current_period(), code=code)


def save_draft(agreement, coordinator, areas):
    return run_step(
        agreement=agreement,
        step_name="draft",
        actor=coordinator,
        complete=False,
        perform=lambda: case_services.agreement_save_draft(
            actor=coordinator, agreement=agreement, title=agreement.title, areas=areas
        ),
    )


def area_input(title, *codes, **extra):
    return case_services.AreaInput(
        title=title,
        goal="Mål",
        region_commitment="Regionen",
        municipality_commitment="Kommunen",
        priorities=[priority(code) for code in codes],
        **extra,
    )


def test_coverage_lists_covered_and_uncovered_priorities(client, coordinator, auditor):
    codes = set(PlanPriority.objects.filter(plan_period=current_period()).values_list("code", flat=True))
    assert codes == {"chefsnatverk", "lanskulturvardar", "hallbara-livsmiljoer", "kulturskolor"}
    mora = agreement_in_stage(Stage.IN_FORCE, "Mora", coordinator=coordinator)
    falun = agreement_in_stage(Stage.REVIEW, "Falun", coordinator=coordinator)
    # Rättvik linked "länskulturinstitutioner" but withdrew: not counted
    rattvik = agreement_in_stage(Stage.DRAFTING, "Rättvik", coordinator=coordinator)
    save_draft(rattvik, coordinator, [area_input("Länsmuseet i Rättvik", "lanskulturvardar")])
    flow_services.agreement_withdraw(actor=coordinator, agreement=rattvik, reason="Avvaktar.")
    # Borlänge linked "hållbara livsmiljöer", then removed the area: not counted
    borlange = agreement_in_stage(Stage.DRAFTING, "Borlänge", coordinator=coordinator)
    save_draft(borlange, coordinator, [area_input("Livsmiljöer", "hallbara-livsmiljoer")])
    removed = borlange.active_areas().get()
    save_draft(
        borlange,
        coordinator,
        [area_input("Livsmiljöer", "hallbara-livsmiljoer", id=removed.pk, remove=True)],
    )

    login(client, coordinator)
    response = client.get(URL)
    assert response.status_code == 200
    coverage = response.context["coverage"]
    assert coverage.plan_period == current_period()
    covered = {
        row.priority.code: {m.name: [a.title for a in areas] for m, areas in row.municipalities}
        for row in coverage.covered
    }
    network, school = "Kommunalt chefsnätverk inom kultur", "Kulturskolan i samverkan"
    assert covered == {
        "chefsnatverk": {"Falun": [network], "Mora": [network]},
        "kulturskolor": {"Falun": [school], "Mora": [school]},
    }
    assert [[m.name for m, _a in row.municipalities] for row in coverage.covered] == [["Falun", "Mora"]] * 2
    assert {p.code for p in coverage.uncovered} == {"lanskulturvardar", "hallbara-livsmiljoer"}
    html = response.content.decode()
    uncovered_section = html.split('id="uncovered"', 1)[1].split('id="trends"', 1)[0]  # up to follow-up at a glance
    assert priority("lanskulturvardar").title in uncovered_section
    assert priority("hallbara-livsmiljoer").title in uncovered_section
    assert priority("chefsnatverk").title not in uncovered_section
    assert mora.case_number in html and falun.case_number in html
    assert rattvik.case_number not in html and borlange.case_number not in html

    # A draft that takes up a priority counts: it leaves the "not taken up" list.
    leksand = agreement_in_stage(Stage.DRAFTING, "Leksand", coordinator=coordinator)
    save_draft(leksand, coordinator, [area_input("Dalarnas museum i Leksand", "lanskulturvardar")])
    client.logout()
    login(client, auditor)  # auditors read it too
    coverage = client.get(URL).context["coverage"]
    assert [p.code for p in coverage.uncovered] == ["hallbara-livsmiljoer"]
    row = next(r for r in coverage.covered if r.priority.code == "lanskulturvardar")
    assert [(m.name, [a.title for a in areas]) for m, areas in row.municipalities] == [
        ("Leksand", ["Dalarnas museum i Leksand"])
    ]
    # another period: its priorities (none yet) and nothing covered
    from cases.models import PlanPeriod

    later = PlanPeriod.objects.get(name="2027–2030")
    coverage = client.get(URL, {"plan_period": later.pk}).context["coverage"]
    assert coverage.covered == [] and coverage.uncovered == list(later.priorities.all())
    assert client.get(URL, {"plan_period": "nonsense"}).status_code == 400
