"""The agreement's timeline, read over HTTP: each step of a whole lifecycle,
taken over HTTP by the users who take it at known times, appears on the
timeline in order, with who, when, why and in which step; field changes are
shown old -> new in Swedish; the filters by kind and person work; the page
costs the same number of queries for a new agreement and a long history; and
only those who may see the agreement see its timeline."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from cases.models import Agreement, CollaborationArea, Decision, Party, PlanPriority, ReviewComment, Stage
from tests.factories import agreement_in_stage, current_period, municipality
from tests.workflows.helpers import draft_post, login, open_task, sign_post, step_url
from workflows.flows import AgreementFlow
from workflows.models import TaskDeadline

from .helpers import act_as, at, sv, timeline_events, timeline_url

pytestmark = pytest.mark.django_db


def area(title, **extra):
    return {
        "title": title,
        "goal": f"Mål för {title}",
        "region_commitment": "Regionen samordnar.",
        "municipality_commitment": "Kommunen deltar.",
        "contacts": "Lars Ek, kulturchef",
        **extra,
    }


def label(model, name):
    """A field's name as the timeline shows it."""
    return sv(lambda: capfirst(model._meta.get_field(name).verbose_name))


def step_title(name):
    return sv(getattr(AgreementFlow, name).task_title)


@pytest.fixture
def lifecycle(client, coordinator, mora_head, mora_official, time_machine, history_keeps_client_time):
    """An agreement taken over HTTP from opening to in force, one step every five minutes."""
    period = current_period()
    priority = PlanPriority.objects.get(plan_period=period, code="kulturskolor")

    time_machine.move_to(at(9, 0), tick=False)
    act_as(client, coordinator)
    response = client.post(
        reverse("workflows:agreement_open"),
        {"municipality": municipality("Mora").pk, "plan_period": period.pk, "title": "Kultur i Mora"},
    )
    assert response.status_code == 302
    agreement = Agreement.objects.get(title="Kultur i Mora")

    time_machine.move_to(at(9, 5), tick=False)
    areas = [area("Kulturskola", priorities=[priority]), area("Bibliotek")]
    draft = client.post(step_url(open_task(agreement, "draft")), draft_post("Kultur i Mora", areas, submit=True))
    assert draft.status_code == 302
    library = agreement.areas.get(title="Bibliotek")
    school = agreement.areas.get(title="Kulturskola")

    time_machine.move_to(at(9, 10), tick=False)
    act_as(client, mora_head)
    review = {"verdict": "changes", "comment": "", f"area_{library.pk}": "Mer om bokbussen."}
    assert client.post(step_url(open_task(agreement, "review")), review).status_code == 302

    time_machine.move_to(at(9, 15), tick=False)
    act_as(client, coordinator)
    areas = [
        area("Kulturskola", id=school.pk, priorities=[priority]),
        area("Bibliotek", id=library.pk, goal="Bokbussen når alla byar."),
    ]
    draft = client.post(step_url(open_task(agreement, "draft")), draft_post("Kultur i Mora", areas, submit=True))
    assert draft.status_code == 302

    time_machine.move_to(at(9, 20), tick=False)
    act_as(client, mora_head)
    assert client.post(step_url(open_task(agreement, "review")), {"verdict": "accept"}).status_code == 302

    time_machine.move_to(at(9, 25), tick=False)
    act_as(client, coordinator)
    decision = {
        "body": "Kultur- och bildningsnämnden",
        "meeting_date": "2026-03-02",
        "paragraph": "45",
        "outcome": "approved",
    }
    assert client.post(step_url(open_task(agreement, "region_decision")), decision).status_code == 302

    time_machine.move_to(at(9, 30), tick=False)
    act_as(client, mora_official)
    decision = {"body": "Kommunstyrelsen", "meeting_date": "2026-03-02", "paragraph": "§ 7", "outcome": "approved"}
    assert client.post(step_url(open_task(agreement, "municipal_decision")), decision).status_code == 302

    time_machine.move_to(at(9, 35), tick=False)
    act_as(client, coordinator)
    sign = sign_post(agreement)
    assert client.post(step_url(open_task(agreement, "sign_region")), sign).status_code == 302

    time_machine.move_to(at(9, 40), tick=False)
    act_as(client, mora_head)
    assert client.post(step_url(open_task(agreement, "sign_municipality")), sign).status_code == 302

    time_machine.move_to(at(10, 0), tick=False)
    agreement.refresh_from_db()
    assert agreement.stage == Stage.IN_FORCE
    return agreement


def test_the_steps_of_a_lifecycle_are_listed_in_order_with_actors_and_reasons(
    client, auditor, lifecycle, coordinator, mora_head, mora_official
):
    act_as(client, auditor)
    done = [e for e in timeline_events(client, lifecycle, kind="steps") if e.action == "step_done"]

    def reason(template, **values):
        return sv(lambda: _(template) % values)

    region, municipal = sv(Party.REGION.label), sv(Party.MUNICIPALITY.label)
    approved = sv(Decision.Outcome.APPROVED.label)
    expected = [
        (at(9, 5), "draft", coordinator, reason("Draft sent for municipal review (round %(round)s)", round=1)),
        (at(9, 10), "review", mora_head, reason("Changes requested in municipal review (round %(round)s)", round=1)),
        (at(9, 15), "draft", coordinator, reason("Draft sent for municipal review (round %(round)s)", round=2)),
        (at(9, 20), "review", mora_head, reason("Draft accepted in municipal review")),
        (
            at(9, 25),
            "region_decision",
            coordinator,
            reason("%(party)s decision recorded: %(outcome)s", party=region, outcome=approved),
        ),
        (
            at(9, 30),
            "municipal_decision",
            mora_official,
            reason("%(party)s decision recorded: %(outcome)s", party=municipal, outcome=approved),
        ),
        (at(9, 35), "sign_region", coordinator, reason("%(party)s signature recorded", party=region)),
        (at(9, 40), "sign_municipality", mora_head, reason("%(party)s signature recorded", party=municipal)),
    ]
    assert [(e.when, e.step, e.actor_id, e.actor) for e in done] == [
        (when, step_title(step), user.pk, user.full_name) for when, step, user, _reason in expected
    ]
    for event, (_when, _step, _user, why) in zip(done, expected, strict=True):
        assert why in event.reason

    # Each step was started when the one before it ended (the first when the agreement was opened).
    started = [e for e in timeline_events(client, lifecycle, kind="steps") if e.action == "step_started"]
    assert [e.when for e in started][:5] == [at(9, 0), at(9, 5), at(9, 10), at(9, 15), at(9, 20)]

    # The page shows it in Swedish, with names.
    page = client.get(timeline_url(lifecycle, kind="steps")).content.decode()
    assert "Sara Mora" in page and "Lars Mora" in page and "Anna Samordnare" in page
    assert step_title("municipal_decision") in page


def test_field_changes_show_old_and_new_values_with_who_when_why(client, auditor, lifecycle, coordinator, mora_head):
    act_as(client, auditor)
    events = timeline_events(client, lifecycle)
    assert events == sorted(events, key=lambda e: e.when)

    # The agreement's stage, in Swedish, step by step.
    stages = [
        (e.when, c.old, c.new)
        for e in events
        if e.kind == "cases.agreement"
        for c in e.changes
        if c.label == label(Agreement, "stage")
    ]
    names = {stage: sv(stage.label) for stage in Stage}
    assert stages == [
        (at(9, 0), "", names[Stage.DRAFTING]),
        (at(9, 5), names[Stage.DRAFTING], names[Stage.REVIEW]),
        (at(9, 10), names[Stage.REVIEW], names[Stage.DRAFTING]),
        (at(9, 15), names[Stage.DRAFTING], names[Stage.REVIEW]),
        (at(9, 20), names[Stage.REVIEW], names[Stage.APPROVAL]),
        (at(9, 30), names[Stage.APPROVAL], names[Stage.SIGNING]),
        (at(9, 40), names[Stage.SIGNING], names[Stage.IN_FORCE]),
    ]

    # The area's goal, changed in round 2 by the coordinator, in the draft step.
    goal_label = label(CollaborationArea, "goal")
    goal = next(
        e
        for e in events
        if e.kind == "cases.collaborationarea" and e.action == "~" and any(c.label == goal_label for c in e.changes)
    )
    change = next(c for c in goal.changes if c.label == goal_label)
    assert (change.old, change.new) == ("Mål för Bibliotek", "Bokbussen når alla byar.")
    assert (goal.when, goal.actor, goal.step) == (at(9, 15), coordinator.full_name, step_title("draft"))
    assert goal.reason == sv(lambda: _("Draft saved"))
    assert goal.subject.endswith("Bibliotek")

    # The review comment: who wrote it, on which area, why.
    comment = next(e for e in events if e.kind == "cases.reviewcomment")
    assert (comment.when, comment.actor, comment.group, comment.action) == (
        at(9, 10),
        mora_head.full_name,
        "comments",
        "+",
    )
    values = {c.label: c.new for c in comment.changes}
    assert values[label(ReviewComment, "text")] == "Mer om bokbussen."
    assert values[label(ReviewComment, "area")] == "Bibliotek"  # the area's title, not its id

    # The linked plan priority by its title; the decision's choices by their labels.
    school = next(e for e in events if e.kind == "cases.collaborationarea" and e.subject.endswith("Kulturskola"))
    priority = PlanPriority.objects.get(plan_period=current_period(), code="kulturskolor")
    created_links = [
        c
        for e in events
        if e.subject == school.subject
        for c in e.changes
        if c.label == label(CollaborationArea, "priorities")
    ]
    assert created_links and created_links[0].new == priority.title
    decision = next(e for e in events if e.kind == "cases.decision" and e.actor_id == coordinator.pk)
    values = {c.label: c.new for c in decision.changes}
    assert values[label(Decision, "party")] == sv(Party.REGION.label)
    assert values[label(Decision, "outcome")] == sv(Decision.Outcome.APPROVED.label)
    assert values[label(Decision, "paragraph")] == "§ 45"
    assert values[label(Decision, "ends_agreement")] == sv(lambda: _("No"))


def test_filters_by_kind_and_person(client, auditor, lifecycle, mora_official):
    act_as(client, auditor)
    signatures = timeline_events(client, lifecycle, kind="signatures")
    assert [(e.kind, e.action, e.when) for e in signatures] == [
        ("cases.signature", "+", at(9, 35)),
        ("cases.signature", "+", at(9, 40)),
    ]
    official = timeline_events(client, lifecycle, person=mora_official.pk)
    assert {e.actor_id for e in official} == {mora_official.pk}
    assert sorted((e.kind, e.action) for e in official) == [
        ("cases.agreement", "~"),  # approval -> signing
        ("cases.decision", "+"),
        ("step", "step_done"),
        ("workflows.taskdeadline", "+"),  # the signing steps' due dates, set in her step
        ("workflows.taskdeadline", "+"),
    ]
    assert timeline_events(client, lifecycle, kind="decisions", person=mora_official.pk) == [
        e for e in official if e.kind == "cases.decision"
    ]


def test_withdrawal_due_dates_and_attachments_are_on_the_timeline(
    client, coordinator, mora_head, time_machine, history_keeps_client_time
):
    time_machine.move_to(at(8, 0), tick=False)
    agreement = agreement_in_stage(Stage.REVIEW, "Mora", coordinator=coordinator, head=mora_head)
    review = open_task(agreement, "review")

    time_machine.move_to(at(8, 5), tick=False)
    login(client, coordinator)
    response = client.post(
        reverse("workflows:step_due_date", args=[agreement.pk, review.pk]),
        {"due_on": "2026-04-30", "reason": "Kommunen bad om mer tid."},
    )
    assert response.status_code == 302

    time_machine.move_to(at(8, 10), tick=False)
    act_as(client, mora_head)
    pdf = SimpleUploadedFile("yttrande.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n", "application/pdf")
    assert client.post(reverse("workflows:attachment_upload", args=[agreement.pk]), {"file": pdf}).status_code == 302

    time_machine.move_to(at(8, 15), tick=False)
    act_as(client, coordinator)
    withdraw = client.post(reverse("workflows:agreement_withdraw", args=[agreement.pk]), {"reason": "Avvaktar."})
    assert withdraw.status_code == 302

    events = timeline_events(client, agreement)
    due = next(e for e in events if e.kind == "workflows.taskdeadline" and e.action == "~")
    assert (due.when, due.actor, due.reason) == (at(8, 5), coordinator.full_name, "Kommunen bad om mer tid.")
    assert (due.changes[0].label, due.changes[0].old, due.changes[0].new) == (
        label(TaskDeadline, "due_on"),
        sv(lambda: date_format(review.deadline.history.earliest().due_on, "j F Y")),
        "30 april 2026",
    )

    upload = next(e for e in events if e.kind == "cases.attachment")
    assert (upload.when, upload.actor, upload.action, upload.group) == (
        at(8, 10),
        mora_head.full_name,
        "+",
        "attachments",
    )
    assert upload.reason == sv(lambda: _("Attachment added"))
    assert upload.subject.endswith("yttrande.pdf")

    withdrawn = [e for e in events if e.when == at(8, 15)]
    agreement_change = next(e for e in withdrawn if e.kind == "cases.agreement")
    assert agreement_change.reason == sv(lambda: _("Agreement withdrawn: %(reason)s") % {"reason": "Avvaktar."})
    changes = {c.label: c.new for c in agreement_change.changes}
    assert changes[label(Agreement, "stage")] == sv(Stage.WITHDRAWN.label)
    assert changes[label(Agreement, "end_reason")] == "Avvaktar."
    cancelled = [e for e in withdrawn if e.action == "step_cancelled"]
    assert [e.step for e in cancelled] == [step_title("review")]


def test_the_page_costs_the_same_queries_for_one_event_or_many(client, auditor, lifecycle, coordinator):
    act_as(client, auditor)
    young = agreement_in_stage(Stage.DRAFTING, "Falun", coordinator=coordinator)
    counts = {}
    for agreement in (young, lifecycle):
        client.get(timeline_url(agreement))  # warm the session
        with CaptureQueriesContext(connection) as queries:
            response = client.get(timeline_url(agreement))
        assert response.status_code == 200
        counts[agreement.pk] = (len(queries.captured_queries), len(response.context["events"]))
    (few_queries, few_events), (many_queries, many_events) = counts[young.pk], counts[lifecycle.pk]
    assert few_events < 10 and many_events > 40
    assert few_queries == many_queries <= 15


def test_each_agreement_gets_its_own_rows(client, auditor, lifecycle, coordinator):
    """The timeline's queries are compiled once per process (#20), the agreement's
    id a parameter: agreements read one after the other each get their own rows."""
    act_as(client, auditor)
    young = agreement_in_stage(Stage.DRAFTING, "Falun", coordinator=coordinator)
    steps = {}
    for agreement, other in ((lifecycle, young), (young, lifecycle), (lifecycle, young)):
        events = timeline_events(client, agreement)
        own = [e for e in events if e.kind == "cases.agreement"]
        assert own and all(e.subject.endswith(agreement.case_number) for e in own)
        assert not any(other.case_number in e.subject for e in events)
        steps.setdefault(agreement.pk, set()).update(e.task_id for e in events if e.kind == "step")
    assert steps[young.pk] and steps[lifecycle.pk] and not steps[young.pk] & steps[lifecycle.pk]


def test_who_may_see_the_timeline(client, lifecycle, falun_head, mora_head, mora_official, coordinator):
    login(client, falun_head)
    assert client.get(timeline_url(lifecycle)).status_code == 404
    assert client.get(reverse("workflows:agreement_as_of", args=[lifecycle.pk])).status_code == 404
    for user in (mora_head, mora_official, coordinator):
        act_as(client, user)
        assert client.get(timeline_url(lifecycle)).status_code == 200
    assert client.get(timeline_url(Agreement(pk=999999))).status_code == 404


def test_a_bad_filter_gets_a_message_and_400(client, auditor, lifecycle):
    act_as(client, auditor)
    response = client.get(timeline_url(lifecycle, kind="foo", person="abc"))
    assert response.status_code == 400
    page = response.content.decode()
    assert sv(lambda: _("Choose a kind from the list.")) in page
    assert sv(lambda: _("Choose a person from the list.")) in page
    assert response.context["form"].errors.keys() == {"kind", "person"}


def test_the_agreement_page_links_to_its_timeline(client, mora_head, lifecycle):
    login(client, mora_head)
    page = client.get(reverse("workflows:agreement", args=[lifecycle.pk])).content.decode()
    assert timeline_url(lifecycle) in page
    assert reverse("workflows:agreement_as_of", args=[lifecycle.pk]) in page
