"""The benchmark does not change what it measures: its steps part (bench/run.py)
adds plan periods with agreements awaiting decisions and records decisions on
them, then withdraws its agreements (their open steps cancelled), and
afterwards the default plan period, the county overview's rows, a cultural
head's own panel on the start page and the steps in that head's inbox are
what they were. (Before,
the bench's period contained today and started last, so it became the
default: the county page then showed it, empty, instead of 2023–2026.)"""

import pytest
from django.urls import reverse

from bench.run import decision_form, open_region_decisions, prepare_decisions, withdraw_bench_agreements
from cases.agreements.selectors import default_plan_period
from cases.models import AgreementDocument, PlanPeriod

pytestmark = pytest.mark.django_db


def shown(rows):
    """What the overview's rows show, as plain values."""
    return [
        (
            row.municipality.name,
            row.agreement.pk if row.agreement else None,
            row.stage,
            row.who,
            row.next_due,
            [(s.title, s.due_on) for s in row.overdue_steps],
            row.latest_follow_up,
            row.area_statuses,
            row.open_action_points,
        )
        for row in rows
    ]


def snapshot(client, load, head):
    client.force_login(load.coordinator)
    county = client.get(reverse("workflows:county"))
    client.force_login(head)
    inbox = client.get(reverse("workflows:inbox"))
    own = inbox.context["own_overview"]
    return {
        "steps": [task.pk for task in inbox.context["page"]],
        "default": default_plan_period(),
        "county": (county.context["period"], shown(county.context["rows"])),
        "own": (own["period"], shown(own["rows"])),
    }


def test_the_steps_benchmark_leaves_the_default_period_and_the_county_page_alone(client, load, current_period):
    load.agreements("in_force", 3)
    load.agreements("approval", 2)
    head = load.head_of(load.municipality(0))
    before = snapshot(client, load, head)
    assert before["default"] == current_period
    assert sum(1 for row in before["county"][1] if row[1]) == 5

    # The steps part, small: agreements awaiting decisions, then region decisions over HTTP.
    periods = prepare_decisions(4, reference=load.reference)
    assert all(p.name.startswith("Bänk ") for p in periods)
    # Its clones do not share their times: the audit log, newest first, would have
    # to sort every row of a shared time on each later run.
    documents = AgreementDocument.history.filter(agreement__plan_period__in=periods)
    times = list(documents.values_list("history_date", flat=True))
    assert len(times) >= 4 and len(set(times)) == len(times)
    tasks = open_region_decisions(periods)
    assert len(tasks) == 4
    client.force_login(load.coordinator)
    for task_pk, process_pk, _agreement in tasks:
        response = client.post(f"/arbete/steg/{process_pk}/region_decision/{task_pk}/", decision_form(periods))
        assert response.status_code == 302, response.content.decode()[:2000]
    assert not open_region_decisions(periods)
    # The municipalities' decisions are now open, in the heads' inboxes, until the bench withdraws its agreements.
    assert snapshot(client, load, head)["steps"] != before["steps"]
    assert withdraw_bench_agreements(periods, load.coordinator)[0] == 4

    after = snapshot(client, load, head)
    assert after == before
    # Whatever the day: the bench's periods contain no day after yesterday and start before every other.
    first = PlanPeriod.objects.exclude(pk__in=[p.pk for p in periods]).order_by("starts_on").first()
    for period in periods:
        assert period.ends_on < load.today and period.starts_on < first.starts_on and not period.is_active
