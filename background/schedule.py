"""Timers in the worker: the jobs of ``settings.BACKGROUND_SCHEDULE`` are
queued on their schedule by every running worker's scheduler thread, without
a cron line.

Each job has a slot per period (every N seconds, or once a day at a local
time). A scheduler queues the job for a slot only by moving the job's
``ScheduledJob.last_slot`` forward in one UPDATE … WHERE last_slot < slot;
the database lets exactly one of any number of schedulers (threads,
processes, machines) do that for a slot, and the task it queues in the same
transaction runs once (django-tasks-db claims a task with FOR UPDATE SKIP
LOCKED). A job missed while no worker ran is queued once when one starts."""

import datetime
import logging
import os
import socket
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .models import ScheduledJob

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    call: str  # dotted path of a function without arguments
    every: datetime.timedelta | None = None
    at: datetime.time | None = None  # daily, local time (Europe/Stockholm)

    def slot(self, now: datetime.datetime) -> datetime.datetime:
        """The start of the period ``now`` falls in."""
        if self.every is not None:
            seconds = self.every.total_seconds()
            return datetime.datetime.fromtimestamp((now.timestamp() // seconds) * seconds, tz=datetime.UTC)
        local = timezone.localtime(now)
        start = timezone.make_aware(datetime.datetime.combine(local.date(), self.at))
        return (
            start
            if local >= start
            else timezone.make_aware(datetime.datetime.combine(local.date() - datetime.timedelta(days=1), self.at))
        )


def jobs() -> list[Job]:
    found = []
    for name, spec in settings.BACKGROUND_SCHEDULE.items():
        every = spec.get("every_seconds")
        at = spec.get("at")
        found.append(
            Job(
                name=name,
                call=spec["call"],
                every=datetime.timedelta(seconds=float(every)) if every else None,
                at=datetime.time.fromisoformat(at) if at else None,
            )
        )
    return found


def job(name) -> Job:
    return next(j for j in jobs() if j.name == name)


def worker_id() -> str:
    """This process, as the scheduler and the delivery record name it."""
    return f"{socket.gethostname()}:{os.getpid()}"


def tick(now: datetime.datetime | None = None, *, worker: str | None = None) -> list[tuple[str, datetime.datetime]]:
    """Queue every job whose current slot no scheduler has queued yet;
    returns the (job, slot) pairs this call queued."""
    from .tasks import run_job

    now = now or timezone.now()
    worker = worker or worker_id()
    planned = jobs()
    ScheduledJob.objects.bulk_create([ScheduledJob(name=j.name) for j in planned], ignore_conflicts=True)
    queued = []
    for planned_job in planned:
        slot = planned_job.slot(now)
        with transaction.atomic():
            won = ScheduledJob.objects.filter(
                Q(last_slot__isnull=True) | Q(last_slot__lt=slot), name=planned_job.name
            ).update(last_slot=slot, last_enqueued_at=now, last_worker=worker[:100])
            if won:
                run_job.enqueue(planned_job.name, slot.isoformat())
                queued.append((planned_job.name, slot))
    for name, slot in queued:
        logger.info("Scheduled job %s queued for %s by %s", name, slot.isoformat(), worker)
    return queued
