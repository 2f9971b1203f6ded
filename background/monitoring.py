"""What monitoring sees of the background work, read from the database (so
one scrape or probe of any app server sees the work of every worker on every
machine, whichever of them is running):

- the readiness check ``worker_queue`` (``/readyz``): fails when work has
  been waiting to be picked up longer than ``WORKER_QUEUE_STUCK_SECONDS``
  (default 600): the oldest task ready to run, or the oldest e-mail due to be
  sent (a message whose attempt failed is due again only after its back-off,
  so a mail server that is down does not make the queue look stuck; a worker
  that is not running does);
- Prometheus gauges at scrape time: ``samverkan_queue_length`` and
  ``samverkan_queue_oldest_age_seconds`` (``queue="tasks"`` and
  ``queue="emails"``), and ``samverkan_outbox_messages{status=…}``, whose
  ``status="failed"`` is the number of e-mails given up on (alert when it
  grows)."""

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Min
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult, get_date_max

from .models import OutgoingEmail


def _tasks_waiting(now):
    """(number, oldest waiting since) of the tasks ready to run now."""
    ready = DBTaskResult.objects.filter(status=TaskResultStatus.READY)
    unscheduled = ready.filter(run_after=get_date_max()).aggregate(n=Count("id"), since=Min("enqueued_at"))
    scheduled = ready.filter(run_after__lte=now).aggregate(n=Count("id"), since=Min("run_after"))
    since = [value for value in (unscheduled["since"], scheduled["since"]) if value is not None]
    return unscheduled["n"] + scheduled["n"], min(since, default=None)


def _emails_waiting(now):
    due = OutgoingEmail.objects.filter(status=OutgoingEmail.Status.PENDING, next_attempt_at__lte=now)
    found = due.aggregate(n=Count("id"), since=Min("next_attempt_at"))
    return found["n"], found["since"]


def queues(now=None):
    """{queue: (length, age in seconds of the oldest waiting item, 0 when empty)}."""
    now = now or timezone.now()
    found = {}
    for name, waiting in (("tasks", _tasks_waiting), ("emails", _emails_waiting)):
        length, since = waiting(now)
        found[name] = (length, max(0.0, (now - since).total_seconds()) if since else 0.0)
    return found


def worker_queue_not_stuck():
    limit = settings.WORKER_QUEUE_STUCK_SECONDS
    try:
        found = queues()
    except DatabaseError:
        return None  # the check "database" names that (one failing check per cause)
    stuck = [f"{name}: oldest waiting {age:.0f} s" for name, (_n, age) in found.items() if age > limit]
    return "; ".join(stuck) or None


def collect():
    from prometheus_client.core import GaugeMetricFamily

    length = GaugeMetricFamily("samverkan_queue_length", "Background work waiting to be done now", labels=["queue"])
    age = GaugeMetricFamily(
        "samverkan_queue_oldest_age_seconds", "How long the oldest waiting item has waited", labels=["queue"]
    )
    for name, (count, oldest) in queues().items():
        length.add_metric([name], count)
        age.add_metric([name], oldest)
    yield length
    yield age
    outbox = GaugeMetricFamily(
        "samverkan_outbox_messages", "E-mails in the outbox by status (failed: given up on)", labels=["status"]
    )
    counts = dict(OutgoingEmail.objects.values_list("status").annotate(n=Count("id")).order_by())
    for status in OutgoingEmail.Status.values:
        outbox.add_metric([status], counts.get(status, 0))
    yield outbox


def register():
    from ops.health import readiness_check
    from ops.metrics import register_collector

    readiness_check("worker_queue")(worker_queue_not_stuck)
    register_collector(collect)
