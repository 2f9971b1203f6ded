"""Reminders and escalation, with time moved by time-machine: a review sent
on 20 May 2026 is due 21 working days later, Thursday 18 June, the day
before midsommarafton. Its cultural head is reminded three working days
before (Monday 15 June) and on the day; the coordinators are told on the
first working day after it, Monday 22 June (not on midsommarafton, nor
over the weekend), and from then the step shows as escalated. All of it
runs as in production: the scheduler queues the daily job, the worker's
task runs the sweep, and the worker delivers the e-mails (here to memory)."""

import datetime

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from background import schedule
from background.mail import mail_preference_set
from background.models import OutgoingEmail
from cases.models import Stage
from cases.workdays import add_working_days
from tests.factories import agreement_in_stage, user_with_role
from tests.workflows.helpers import login, open_task
from workflows import services
from workflows.models import StepNotice
from workflows.reminders import send_step_reminders
from workflows.selectors import steps_of

pytestmark = pytest.mark.django_db

SENT_FOR_REVIEW = datetime.date(2026, 5, 20)
DUE = datetime.date(2026, 6, 18)


def morning(day):
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(6, 30)))


@pytest.fixture
def run_the_worker(monkeypatch):
    """What a running worker does in the morning: the scheduler queues what is
    due, the worker runs the queued tasks (the sweep, then the delivery), here
    in the test's own transaction (whose connection the worker must not close)."""
    monkeypatch.setattr("django_tasks_db.management.commands.db_worker.close_old_connections", lambda: None)

    def run():
        schedule.tick()
        call_command("db_worker", batch=True, queue_name="*", reload=False, startup_delay=False, verbosity=0)

    return run


def test_a_review_is_reminded_then_escalated_on_the_right_working_days_around_midsommar(
    client, time_machine, coordinator, mora_head, run_the_worker
):
    time_machine.move_to(morning(SENT_FOR_REVIEW), tick=False)
    agreement = agreement_in_stage(Stage.REVIEW, "Mora", coordinator=coordinator, head=mora_head)
    review = open_task(agreement, "review")
    assert review.deadline.due_on == DUE == add_working_days(SENT_FOR_REVIEW, 21)

    delivered = {}
    day = datetime.date(2026, 6, 8)
    while day <= datetime.date(2026, 6, 26):
        time_machine.move_to(morning(day), tick=False)
        mail.outbox.clear()
        run_the_worker()
        notices = [m for m in mail.outbox if "Påminnelse" in m.subject or "Eskalerad" in m.subject]
        notices += [m for m in mail.outbox if "Sista dag i dag" in m.subject]
        if notices:
            delivered[day] = sorted((m.subject.split(":")[0], tuple(m.to)) for m in notices)
        if day == DUE:  # on the due date, not yet escalated
            login(client, mora_head)
            assert "Eskalerad" not in client.get(reverse("workflows:inbox")).content.decode()
        day += datetime.timedelta(days=1)

    assert delivered == {
        datetime.date(2026, 6, 15): [("[Samverkan] Påminnelse", (mora_head.email,))],
        datetime.date(2026, 6, 18): [("[Samverkan] Sista dag i dag", (mora_head.email,))],
        datetime.date(2026, 6, 22): [("[Samverkan] Eskalerad", (coordinator.email,))],
    }
    assert list(StepNotice.objects.filter(task=review).order_by("sent_on").values_list("kind", "sent_on")) == [
        ("before", datetime.date(2026, 6, 15)),
        ("due", datetime.date(2026, 6, 18)),
        ("escalated", datetime.date(2026, 6, 22)),
    ]

    # Escalated: in the cultural head's inbox, on the agreement and in the county overview.
    login(client, mora_head)
    assert "Eskalerad" in client.get(reverse("workflows:inbox")).content.decode()
    client.logout()
    login(client, coordinator)
    assert "Eskalerad" in client.get(reverse("workflows:agreement", args=[agreement.pk])).content.decode()
    assert "Eskalerad" in client.get(reverse("workflows:county")).content.decode()
    assert "Eskalerad" in client.get(reverse("workflows:queue")).content.decode()
    # What was sent is on the agreement's timeline.
    timeline = client.get(reverse("workflows:agreement_timeline", args=[agreement.pk]), {"kind": "emails"})
    text = timeline.content.decode()
    assert "E-post skickad" in text and "Påminnelse: stegets sista dag närmar sig" in text
    assert "Eskalering: stegets sista dag har passerat" in text


def _due(agreements, day, kinds):
    """Give each agreement's review a due date that makes today's notice ``kind``."""
    offsets = {"before": add_working_days(day, 2), "due": day, "escalated": day - datetime.timedelta(days=3)}
    for agreement, kind in zip(agreements, kinds, strict=True):
        deadline = open_task(agreement, "review").deadline
        deadline.due_on = offsets[kind]
        deadline.save()


def test_the_sweep_takes_the_same_number_of_queries_for_three_steps_as_for_twelve(time_machine, coordinator):
    day = datetime.date(2026, 9, 14)  # a Monday
    time_machine.move_to(morning(day - datetime.timedelta(days=7)), tick=False)
    names = ["Mora", "Falun", "Leksand", "Rättvik", "Orsa", "Gagnef", "Vansbro", "Säter", "Avesta", "Ludvika"]
    names += ["Borlänge", "Hedemora", "Smedjebacken", "Älvdalen", "Malung-Sälen"]
    agreements = [agreement_in_stage(Stage.REVIEW, name, coordinator=coordinator) for name in names]
    time_machine.move_to(morning(day), tick=False)
    counts = []
    for batch, kinds in (
        (agreements[:3], ["before", "due", "escalated"]),
        (agreements[3:], ["before", "due", "escalated"] * 4),
    ):
        _due(batch, day, kinds)
        with CaptureQueriesContext(connection) as queries:
            sent = send_step_reminders(day)
        assert sent == len(batch)
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    assert counts[0] <= 12, counts
    assert StepNotice.objects.count() == 15
    assert send_step_reminders(day) == 0  # the same day again: nothing twice


def test_a_moved_due_date_gets_its_own_reminders_and_ends_the_escalation(time_machine, coordinator, mora_head):
    time_machine.move_to(morning(SENT_FOR_REVIEW), tick=False)
    agreement = agreement_in_stage(Stage.REVIEW, "Mora", coordinator=coordinator, head=mora_head)
    review = open_task(agreement, "review")
    time_machine.move_to(morning(datetime.date(2026, 6, 22)), tick=False)
    assert send_step_reminders() == 1  # escalated (the reminders before were missed: no worker ran)
    assert StepNotice.objects.get(task=review).kind == "escalated"

    services.step_change_due_date(actor=coordinator, task=review, due_on=datetime.date(2026, 6, 24), reason="Sjuk")

    open_steps, _done = steps_of(agreement)
    assert [t.escalated for t in open_steps] == [False]  # the new due date has not passed
    assert send_step_reminders() == 1  # a reminder before the new date, the same day
    assert list(StepNotice.objects.filter(task=review).order_by("pk").values_list("kind", "due_on")) == [
        ("escalated", DUE),
        ("before", datetime.date(2026, 6, 24)),
    ]


def test_no_reminders_on_a_day_off(time_machine, coordinator):
    time_machine.move_to(morning(SENT_FOR_REVIEW), tick=False)
    agreement_in_stage(Stage.REVIEW, "Mora", coordinator=coordinator)
    for day_off in (datetime.date(2026, 6, 19), datetime.date(2026, 6, 20), datetime.date(2026, 6, 21)):
        time_machine.move_to(morning(day_off), tick=False)
        assert send_step_reminders() == 0
    assert not StepNotice.objects.exists()


def test_a_due_date_moved_onto_midsommarafton_becomes_the_next_working_day_and_the_page_says_so(
    client, coordinator, mora_head, time_machine
):
    time_machine.move_to(morning(SENT_FOR_REVIEW), tick=False)
    agreement = agreement_in_stage(Stage.REVIEW, "Mora", coordinator=coordinator, head=mora_head)
    review = open_task(agreement, "review")
    login(client, coordinator)
    page = client.get(reverse("workflows:agreement", args=[agreement.pk])).content.decode()
    assert "En sista dag är en arbetsdag" in page  # said before it happens

    url = reverse("workflows:step_due_date", args=[agreement.pk, review.pk])
    response = client.post(url, {"due_on": "2026-06-19", "reason": "Nämnden möts senare"}, follow=True)
    assert response.status_code == 200
    text = response.content.decode()
    assert "19 juni 2026 är Midsommarafton" in text and "måndag 22 juni 2026" in text
    review.deadline.refresh_from_db()
    assert review.deadline.due_on == datetime.date(2026, 6, 22)
    record = review.deadline.history.latest()
    assert record.history_change_reason.startswith("Nämnden möts senare (19 juni 2026 är Midsommarafton")


def test_reminders_go_to_those_who_can_take_the_step_and_honour_a_digest(time_machine, coordinator, mora_head):
    official = user_with_role(Role.OFFICIAL, "Mora")
    time_machine.move_to(morning(SENT_FOR_REVIEW), tick=False)
    agreement = agreement_in_stage(Stage.APPROVAL, "Mora", coordinator=coordinator, head=mora_head)
    mail_preference_set(actor=official, user=official, delivery="digest")
    decision = open_task(agreement, "municipal_decision")
    decision.deadline.due_on = datetime.date(2026, 6, 18)
    decision.deadline.save()
    time_machine.move_to(morning(datetime.date(2026, 6, 15)), tick=False)

    send_step_reminders()

    reminders = OutgoingEmail.objects.filter(kind="step_before", task=decision)
    assert sorted((e.to_address, e.status) for e in reminders) == sorted(
        [(mora_head.email, "pending"), (official.email, "held")]
    )
