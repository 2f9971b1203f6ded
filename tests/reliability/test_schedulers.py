"""Two schedulers at once do nothing twice: two real worker processes
scheduling the same jobs every second against PostgreSQL queue each job
once per slot; schedulers in threads released together at the same instant
queue each job once; two reminder sweeps at once send each reminder once."""

import datetime
import threading
from collections import Counter

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from background import schedule
from background.models import OutgoingEmail
from cases.models import Stage
from tests.factories import agreement_in_stage
from tests.workflows.helpers import open_task
from workflows.models import StepNotice
from workflows.reminders import send_step_reminders

from .processes import Worker
from .test_races import race

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("empty_database_once"),
]


def scheduled_runs():
    """[(job, slot)] of every run_job task queued."""
    rows = DBTaskResult.objects.filter(task_path="background.tasks.run_job").values_list("args_kwargs", flat=True)
    return [tuple(row["args"]) for row in rows]


def at_once(count, call):
    """``call`` in ``count`` threads (each its own connection), released together."""
    return race(*[call] * count)


def test_two_scheduler_processes_queue_each_slot_once(tmp_path):
    every_second = {"WORKFLOW_TIMERS_EVERY_SECONDS": "1", "DELIVER_EMAILS_EVERY_SECONDS": "1"}
    args = ("--scheduler-only", "--tick", "0.05", "--run-for", "5")
    workers = [Worker(tmp_path, name=f"scheduler{i}", args=args, **every_second) for i in (1, 2)]
    for worker in workers:
        worker.process.wait(timeout=60)
        worker.stop()

    runs = scheduled_runs()
    duplicates = [run for run, count in Counter(runs).items() if count > 1]
    assert duplicates == []
    per_job = Counter(name for name, _slot in runs)
    assert per_job["deliver_emails"] >= 4 and per_job["workflow_timers"] >= 4  # one per second
    assert per_job["step_reminders"] == 1 and per_job["email_digest"] == 1  # once a day
    # Both processes ticked all along (about a hundred times each), and together queued exactly what is there.
    summaries = [w.output().strip().splitlines()[-1] for w in workers]
    ticks = [int(line.split(": ")[1].split(" ticks")[0]) for line in summaries]
    queued = [int(line.split(", ")[1].split(" jobs")[0]) for line in summaries]
    assert min(ticks) >= 20, summaries
    assert sum(queued) == len(runs), summaries


def test_schedulers_released_at_the_same_instant_queue_each_job_once():
    now = timezone.now()
    results = at_once(6, lambda: schedule.tick(now, worker=f"thread-{threading.get_ident()}"))
    assert not [r for r in results if isinstance(r, Exception)], results
    queued = [pair for result in results for pair in result]
    assert sorted(name for name, _slot in queued) == sorted(j.name for j in schedule.jobs())
    assert Counter(scheduled_runs()) == Counter((name, slot.isoformat()) for name, slot in queued)
    # Asked again about the same slots: nothing more.
    assert schedule.tick(now) == []


def test_two_reminder_sweeps_at_once_remind_once(time_machine):
    time_machine.move_to(timezone.make_aware(datetime.datetime(2027, 6, 21, 6, 0)), tick=False)
    agreements = [agreement_in_stage(Stage.REVIEW, name) for name in ("Mora", "Falun", "Leksand")]
    for agreement in agreements:  # all due on Thursday 24 June: a reminder today, Monday 21 June
        deadline = open_task(agreement, "review").deadline
        deadline.due_on = datetime.date(2027, 6, 24)
        deadline.save()
    emails_before = OutgoingEmail.objects.count()

    results = at_once(4, lambda: send_step_reminders(datetime.date(2027, 6, 21)))

    assert sorted(results) == [0, 0, 0, 3], results
    assert StepNotice.objects.filter(kind=StepNotice.Kind.BEFORE).count() == 3
    reminders = OutgoingEmail.objects.filter(kind="step_before")
    assert reminders.count() == OutgoingEmail.objects.count() - emails_before == 3
