"""The agreement as it stood at a chosen time: changes are made over HTTP at
known times, and the page reproduces each earlier state (title, stage,
areas with their text and plan priorities, removed areas, decisions); a time
before the agreement existed or a malformed time gets a clear message and 400."""

import pytest
from django.urls import reverse
from django.utils.translation import gettext as _

from cases.models import Agreement, PlanPriority, Stage
from tests.factories import current_period, municipality
from tests.workflows.helpers import draft_post, open_task, step_url

from .helpers import act_as, at, sv

pytestmark = pytest.mark.django_db


def area(title, goal, **extra):
    return {
        "title": title,
        "goal": goal,
        "region_commitment": "Regionen samordnar.",
        "municipality_commitment": "Kommunen deltar.",
        "contacts": "",
        **extra,
    }


@pytest.fixture
def history(client, coordinator, mora_head, time_machine, history_keeps_client_time):
    """An agreement changed over HTTP at 08:00, 08:10, 08:20, 08:30, 08:40 and 08:50."""
    period = current_period()
    networks = PlanPriority.objects.get(plan_period=period, code="chefsnatverk")
    schools = PlanPriority.objects.get(plan_period=period, code="kulturskolor")

    time_machine.move_to(at(8, 0), tick=False)
    act_as(client, coordinator)
    client.post(
        reverse("workflows:agreement_open"),
        {"municipality": municipality("Mora").pk, "plan_period": period.pk, "title": "Kultur i Mora"},
    )
    agreement = Agreement.objects.get(title="Kultur i Mora")

    time_machine.move_to(at(8, 10), tick=False)
    areas = [area("Kulturskola", "Första målet.", priorities=[networks]), area("Tillfälligt", "Tas bort.")]
    assert client.post(step_url(open_task(agreement, "draft")), draft_post("Kultur i Mora", areas)).status_code == 302
    school = agreement.areas.get(title="Kulturskola")
    temporary = agreement.areas.get(title="Tillfälligt")

    time_machine.move_to(at(8, 20), tick=False)
    areas = [
        area("Kulturskola", "Andra målet.", id=school.pk, priorities=[schools]),
        area("Tillfälligt", "Tas bort.", id=temporary.pk, DELETE=True),
        area("Bibliotek", "Bokbussen."),
    ]
    response = client.post(step_url(open_task(agreement, "draft")), draft_post("Kultur i Mora och Älvdalen", areas))
    assert response.status_code == 302

    time_machine.move_to(at(8, 30), tick=False)
    agreement.refresh_from_db()
    draft = client.post(
        step_url(open_task(agreement, "draft")), draft_post(agreement.title, _current(agreement), submit=True)
    )
    assert draft.status_code == 302

    time_machine.move_to(at(8, 40), tick=False)
    act_as(client, mora_head)
    assert client.post(step_url(open_task(agreement, "review")), {"verdict": "accept"}).status_code == 302

    time_machine.move_to(at(8, 50), tick=False)
    act_as(client, coordinator)
    decision = {
        "body": "Kultur- och bildningsnämnden",
        "meeting_date": "2026-03-02",
        "paragraph": "12",
        "outcome": "approved",
    }
    assert client.post(step_url(open_task(agreement, "region_decision")), decision).status_code == 302
    time_machine.move_to(at(9, 0), tick=False)
    return agreement


def _current(agreement):
    """The draft form's areas as they are."""
    return [
        area(a.title, a.goal, id=a.pk, priorities=list(a.priorities.all()))
        for a in agreement.active_areas().order_by("position")
    ]


def as_of(client, agreement, when):
    return client.get(reverse("workflows:agreement_as_of", args=[agreement.pk]), {"tid": when})


def summary(state):
    return {
        "title": state.agreement.title,
        "stage": state.agreement.stage,
        "areas": [(item.area.title, item.area.goal, item.priorities) for item in state.areas],
        "removed": [item.area.title for item in state.removed_areas],
        "decisions": [(d.party, d.paragraph, d.outcome) for d in state.decisions],
    }


def test_each_earlier_state_is_reproduced(client, auditor, history):
    period = current_period()
    networks = PlanPriority.objects.get(plan_period=period, code="chefsnatverk").title
    schools = PlanPriority.objects.get(plan_period=period, code="kulturskolor").title
    act_as(client, auditor)

    states = {}
    for when in ("2026-03-02T08:05", "2026-03-02T08:15", "2026-03-02 08:25", "2026-03-02T08:35", "2026-03-02T08:45"):
        response = as_of(client, history, when)
        assert response.status_code == 200, response.content.decode()
        states[when[-5:]] = summary(response.context["state"])

    assert states["08:05"] == {
        "title": "Kultur i Mora",
        "stage": Stage.DRAFTING,
        "areas": [],
        "removed": [],
        "decisions": [],
    }
    assert states["08:15"] == {
        "title": "Kultur i Mora",
        "stage": Stage.DRAFTING,
        "areas": [("Kulturskola", "Första målet.", [networks]), ("Tillfälligt", "Tas bort.", [])],
        "removed": [],
        "decisions": [],
    }
    after_second_save = {
        "title": "Kultur i Mora och Älvdalen",
        "stage": Stage.DRAFTING,
        "areas": [("Kulturskola", "Andra målet.", [schools]), ("Bibliotek", "Bokbussen.", [])],
        "removed": ["Tillfälligt"],
        "decisions": [],
    }
    assert states["08:25"] == after_second_save
    assert states["08:35"] == {**after_second_save, "stage": Stage.REVIEW}
    assert states["08:45"] == {**after_second_save, "stage": Stage.APPROVAL}

    # A date alone is the end of that day: everything up to now.
    response = as_of(client, history, "2026-03-02")
    assert summary(response.context["state"])["decisions"] == [("region", "§ 12", "approved")]

    # What the page shows, in Swedish.
    page = as_of(client, history, "2026-03-02T08:15").content.decode()
    assert "Första målet." in page and networks in page and "Andra målet." not in page
    assert sv(Stage.DRAFTING.label) in page


def test_a_time_before_the_agreement_or_a_malformed_time_gets_a_message(client, auditor, history):
    act_as(client, auditor)
    response = as_of(client, history, "2026-03-02T07:59")
    assert response.status_code == 400
    message = sv(lambda: _("The agreement did not exist yet at that time. It was opened on %(when)s.") % {"when": "|"})
    before, after = message.split("|")
    assert f"{before}2 mars 2026 08:00{after}" in response.content.decode()
    assert list(response.context["form"].errors) == ["tid"]

    for bad in ("garbage", "2026-13-01T10:00", "2026-03-02T25:00", "", "0000-01-01", "99999-01-01T00:00"):
        response = as_of(client, history, bad)
        assert response.status_code == 400, bad
        assert list(response.context["form"].errors) == ["tid"], bad
        assert response.context["state"] is None

    # Without a time the page offers the form.
    response = client.get(reverse("workflows:agreement_as_of", args=[history.pk]))
    assert response.status_code == 200 and response.context["state"] is None
