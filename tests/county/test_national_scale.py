"""The county overview at national scale builds no model instance per
municipality: what each row shows (the agreement, its follow-ups and the
statuses of its areas, its open steps) is read as plain values. The number
of model instances a request builds (counted with Django's post_init signal,
which every model instance sends) is the same for 15 municipalities as for
290, and none of them is an agreement, a follow-up, an entry, a step or a
municipality. Before this, 290 municipalities built about 6,900.

The same for the CSV export and for the cultural head's own panel on the
start page (which reads the same rows for one municipality)."""

import pytest
from django.urls import reverse

from bench.loadtest import reference
from bench.loadtest.reference import ensure_reference
from tests.perf.conftest import Load, instances_built, quiet

pytestmark = pytest.mark.django_db

# What the rows are made of: the old approach built these by the thousand.
PER_ROW_MODELS = {
    "cases.Agreement",
    "cases.FollowUp",
    "cases.FollowUpEntry",
    "cases.CollaborationArea",
    "accounts.Organisation",
    "viewflow.Task",
    "viewflow.Process",
    "workflows.AgreementProcess",
    "workflows.TaskDeadline",
}


def measure(client, path):
    client.get(path)  # warm-up
    with instances_built() as counts:
        response = client.get(path)
        if response.streaming:
            b"".join(response.streaming_content)
    assert response.status_code == 200
    return response, counts


def dalarna_only(total):
    """``reference.spread`` for Dalarna's 15 municipalities and no other."""
    return {county: (15 if county == reference.DALARNA else 0) for county, _name, _count in reference.REGIONS}


def counted(client, load):
    """Instances built by the county page, its CSV and a cultural head's start page."""
    client.force_login(load.coordinator)
    response, page = measure(client, reverse("workflows:county"))
    rows = response.context["rows"]
    # Not a vacuous count: every municipality has an agreement, two in three in
    # force with their latest follow-up and the area statuses of its report,
    # the others in approval with open steps.
    assert len(rows) == len(load.reference.municipalities)
    assert all(r.agreement is not None for r in rows)
    in_force = [r for r in rows if r.latest_follow_up and r.area_statuses]
    assert len(in_force) * 3 >= len(rows) * 2 - 3
    assert sum(len(r.steps) for r in rows if r.stage == "approval") >= len(rows) - len(in_force)
    _response, csv = measure(client, reverse("workflows:county_csv"))
    client.force_login(load.head_of(load.municipality(0)))
    inbox, start_page = measure(client, reverse("workflows:inbox"))
    assert inbox.context["own_overview"]["rows"][0].area_statuses
    client.logout()
    return {"page": page, "csv": csv, "inbox": start_page}


def test_the_county_page_builds_the_same_instances_for_15_and_290_municipalities(client, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(reference, "spread", dalarna_only)
        dalarna = Load(ensure_reference(historical_periods=False, region_people={"20"}, log=quiet))
    assert len(dalarna.reference.municipalities) == 15
    dalarna.agreements("in_force", 10)
    dalarna.agreements("approval", 5)
    small = counted(client, dalarna)

    sweden = Load(ensure_reference(municipalities=290, historical_periods=False, region_people={"20"}, log=quiet))
    assert len(sweden.reference.municipalities) == 290
    sweden.used = dalarna.used  # Dalarna's have theirs: one live agreement per municipality and period
    sweden.agreements("in_force", 184)
    sweden.agreements("approval", 91)
    large = counted(client, sweden)

    for what in ("page", "csv", "inbox"):
        assert small[what] == large[what], (what, small[what], large[what])
        assert not PER_ROW_MODELS & set(large[what]), (what, large[what])
        assert sum(large[what].values()) <= 40, (what, large[what])
