"""The whole lifecycle over HTTP, as the users who take each step: a
change-request round, a rejected and then approved decision, both signatures,
and a withdrawal of another agreement. After each step the agreement's stage
and viewflow's task rows are checked."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from background.models import OutgoingEmail
from cases.models import Agreement, AgreementRevision, Decision, PlanPriority, ReviewComment, Signature, Stage
from cases.workdays import add_working_days, next_working_day
from tests.factories import agreement_in_stage, current_period, municipality
from tests.workflows.helpers import draft_post, login, open_task, sign_post, step_url, task_states

pytestmark = pytest.mark.django_db

DONE, NEW, CANCELED = "DONE", "NEW", "CANCELED"


def area(title, **extra):
    return {
        "title": title,
        "goal": f"Mål för {title}",
        "region_commitment": "Regionen samordnar.",
        "municipality_commitment": "Kommunen deltar.",
        "contacts": "Lars Ek, kulturchef",
        **extra,
    }


def test_whole_lifecycle_over_http(client, coordinator, mora_head, mora_official, django_capture_on_commit_callbacks):
    today = timezone.localdate()
    period = current_period()
    priority = PlanPriority.objects.get(plan_period=period, code="kulturskolor")

    # The coordinator opens the agreement.
    login(client, coordinator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("workflows:agreement_open"),
            {"municipality": municipality("Mora").pk, "plan_period": period.pk, "title": "Kultur i Mora"},
        )
    assert response.status_code == 302
    agreement = Agreement.objects.get(title="Kultur i Mora")
    assert agreement.case_number.startswith(f"RD {today.year}/")
    assert agreement.stage == Stage.DRAFTING
    assert task_states(agreement) == {"draft": [NEW]}
    # The e-mail is queued in the outbox with the step; the background worker sends it.
    assert list(OutgoingEmail.objects.values_list("to_address", flat=True)) == [coordinator.email]

    # Drafting: save twice, then send for review.
    draft = open_task(agreement, "draft")
    response = client.post(step_url(draft), draft_post("Kultur i Mora", [area("Kulturskola", priorities=[priority])]))
    assert response.status_code == 302
    assert agreement.active_areas().count() == 1
    assert task_states(agreement) == {"draft": [NEW]}  # saving does not complete the step
    first_area = agreement.active_areas().get()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            step_url(draft),
            draft_post(
                "Kultur i Mora",
                [area("Kulturskola", id=first_area.pk, priorities=[priority]), area("Bibliotek")],
                submit=True,
            ),
        )
    assert response.status_code == 302, response.content.decode()
    agreement.refresh_from_db()
    assert agreement.stage == Stage.REVIEW
    assert task_states(agreement) == {"draft": [DONE], "review": [NEW]}
    assert AgreementRevision.objects.get(agreement=agreement, round=1).content[0]["title"] == "Kulturskola"
    assert OutgoingEmail.objects.filter(to_address=mora_head.email, kind="step_reached").exists()

    # Municipal review: the cultural head asks for changes on one area.
    client.logout()
    login(client, mora_head)
    review = open_task(agreement, "review")
    assert client.get(step_url(review)).status_code == 200
    library = agreement.active_areas().get(title="Bibliotek")
    response = client.post(
        step_url(review), {"verdict": "changes", "comment": "", f"area_{library.pk}": "Mer om bokbussen."}
    )
    assert response.status_code == 302
    agreement.refresh_from_db()
    assert agreement.stage == Stage.DRAFTING and agreement.review_round == 2
    assert task_states(agreement) == {"draft": [DONE, NEW], "review": [DONE]}
    assert ReviewComment.objects.get(agreement=agreement).area == library

    # Round 2: the coordinator revises and resends; the head accepts.
    client.logout()
    login(client, coordinator)
    draft = open_task(agreement, "draft")
    areas = [
        area("Kulturskola", id=first_area.pk, priorities=[priority]),
        area("Bibliotek", id=library.pk, goal="Bokbussen når alla byar."),
    ]
    assert client.post(step_url(draft), draft_post("Kultur i Mora", areas, submit=True)).status_code == 302
    agreement.refresh_from_db()
    assert agreement.stage == Stage.REVIEW
    assert AgreementRevision.objects.filter(agreement=agreement).count() == 2

    client.logout()
    login(client, mora_head)
    assert client.post(step_url(open_task(agreement, "review")), {"verdict": "accept"}).status_code == 302
    agreement.refresh_from_db()
    assert agreement.stage == Stage.APPROVAL
    assert task_states(agreement)["region_decision"] == [NEW]
    assert task_states(agreement)["municipal_decision"] == [NEW]

    # Political approval: the region's committee rejects (back to drafting) ...
    client.logout()
    login(client, coordinator)
    decision = {
        "body": "Kultur- och bildningsnämnden",
        "meeting_date": today.isoformat(),
        "paragraph": "§ 45",
        "outcome": "rejected",
    }
    assert client.post(step_url(open_task(agreement, "region_decision")), decision).status_code == 302
    agreement.refresh_from_db()
    assert agreement.stage == Stage.DRAFTING and agreement.review_round == 3
    states = task_states(agreement)
    assert states["region_decision"] == [DONE]
    assert states["municipal_decision"] == [CANCELED]  # the other branch is cancelled at once
    assert states["draft"] == [DONE, DONE, NEW]

    # ... a new round, and then both approve.
    assert (
        client.post(
            step_url(open_task(agreement, "draft")), draft_post("Kultur i Mora", areas, submit=True)
        ).status_code
        == 302
    )
    client.logout()
    login(client, mora_head)
    assert client.post(step_url(open_task(agreement, "review")), {"verdict": "accept"}).status_code == 302
    client.logout()
    login(client, coordinator)
    decision.update(outcome="approved", paragraph="52")
    assert client.post(step_url(open_task(agreement, "region_decision")), decision).status_code == 302
    agreement.refresh_from_db()
    assert agreement.stage == Stage.APPROVAL  # waits for the municipality
    client.logout()
    login(client, mora_official)  # an official may record the municipality's decision
    municipal = {
        "body": "Kommunstyrelsen",
        "meeting_date": today.isoformat(),
        "paragraph": "§ 7",
        "outcome": "approved",
    }
    assert client.post(step_url(open_task(agreement, "municipal_decision")), municipal).status_code == 302
    agreement.refresh_from_db()
    assert agreement.stage == Stage.SIGNING
    assert Decision.objects.get(agreement=agreement, party="region", round=3).paragraph == "§ 52"
    assert task_states(agreement)["sign_region"] == [NEW]

    # Signing, by both parties.
    client.logout()
    login(client, coordinator)
    # Each signs for themselves, confirming with their password, the frozen document's hash posted back.
    sign = sign_post(agreement)
    assert client.post(step_url(open_task(agreement, "sign_region")), sign).status_code == 302
    agreement.refresh_from_db()
    assert agreement.stage == Stage.SIGNING
    client.logout()
    login(client, mora_head)
    assert client.post(step_url(open_task(agreement, "sign_municipality")), sign).status_code == 302
    agreement.refresh_from_db()
    assert agreement.stage == Stage.IN_FORCE
    assert agreement.in_force_since == today
    assert Signature.objects.filter(agreement=agreement).count() == 2
    assert all(status in (DONE, CANCELED) for statuses in task_states(agreement).values() for status in statuses)
    # In force, the process waits for the next follow-up or the period's end (a timer).
    from viewflow.workflow.models import Task

    waiting = Task.objects.get(process__agreementprocess__agreement=agreement, status="SCHEDULED")
    assert waiting.flow_task.name in ("follow_up_due", "period_end")

    # Everyone concerned sees it in force.
    page = client.get(reverse("workflows:agreement", args=[agreement.pk]))
    assert "I kraft" in page.content.decode()


def test_withdrawal_cancels_open_steps_and_keeps_the_reason(client, coordinator, falun_head):
    agreement = agreement_in_stage(Stage.APPROVAL, "Falun", coordinator=coordinator, head=falun_head)
    login(client, coordinator)
    url = reverse("workflows:agreement_withdraw", args=[agreement.pk])
    response = client.post(url, {"reason": ""})
    assert response.status_code == 400
    assert "Detta fält måste fyllas i" in response.content.decode()
    agreement.refresh_from_db()
    assert agreement.stage == Stage.APPROVAL

    assert client.post(url, {"reason": "Kommunen avböjde i år."}).status_code == 302
    agreement.refresh_from_db()
    assert agreement.stage == Stage.WITHDRAWN
    assert agreement.end_reason == "Kommunen avböjde i år."
    states = task_states(agreement)
    assert states["region_decision"] == [CANCELED] and states["municipal_decision"] == [CANCELED]
    assert agreement.process.status == "CANCELED"
    assert agreement.history.latest().history_change_reason.endswith("Kommunen avböjde i år.")

    # A second withdrawal is refused clearly.
    response = client.post(url, {"reason": "Igen"})
    assert response.status_code == 409


def test_decision_rejection_can_end_the_agreement(client, coordinator, mora_head):
    agreement = agreement_in_stage(Stage.APPROVAL, coordinator=coordinator, head=mora_head)
    login(client, mora_head)
    data = {
        "body": "Kommunstyrelsen",
        "meeting_date": timezone.localdate().isoformat(),
        "paragraph": "§ 3",
        "outcome": "rejected",
        "ends_agreement": "on",
    }
    assert client.post(step_url(open_task(agreement, "municipal_decision")), data).status_code == 302
    agreement.refresh_from_db()
    assert agreement.stage == Stage.REJECTED
    assert agreement.process.status == "DONE"
    assert task_states(agreement)["region_decision"] == [CANCELED]


def test_due_dates_are_shown_and_overdue_steps_marked(client, coordinator, mora_head, time_machine):
    agreement = agreement_in_stage(Stage.REVIEW, coordinator=coordinator, head=mora_head)
    task = open_task(agreement, "review")
    assert task.deadline.due_on == add_working_days(timezone.localdate(), 21)  # working days, not calendar days
    login(client, mora_head)
    assert "Försenad" not in client.get(reverse("workflows:inbox")).content.decode()
    time_machine.move_to(timezone.now() + datetime.timedelta(days=45))
    login(client, mora_head)  # the idle session has long expired
    inbox = client.get(reverse("workflows:inbox")).content.decode()
    assert agreement.case_number in inbox and "Försenad" in inbox
    listing = client.get(reverse("workflows:agreements"), {"overdue": "on"}).content.decode()
    assert agreement.case_number in listing


def test_coordinator_changes_a_due_date_with_a_reason(client, coordinator, mora_head):
    agreement = agreement_in_stage(Stage.REVIEW, coordinator=coordinator, head=mora_head)
    task = open_task(agreement, "review")
    login(client, coordinator)
    url = reverse("workflows:step_due_date", args=[agreement.pk, task.pk])
    new_date = next_working_day(timezone.localdate() + datetime.timedelta(days=40))
    response = client.post(url, {"due_on": "2001-01-01", "reason": "Fel"})
    assert response.status_code == 400
    assert client.post(url, {"due_on": new_date.isoformat(), "reason": "Nämnden möts senare"}).status_code == 302
    task.deadline.refresh_from_db()
    assert task.deadline.due_on == new_date
    record = task.deadline.history.latest()
    assert record.history_user == coordinator and record.history_change_reason == "Nämnden möts senare"

    # The cultural head may not move due dates.
    client.logout()
    login(client, mora_head)
    assert client.post(url, {"due_on": new_date.isoformat(), "reason": "x"}).status_code == 403
