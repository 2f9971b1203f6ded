"""The worker's tasks, in Django's task interface (``django.tasks`` from
Django 6; the ``django-tasks`` backport here, with its database backend).
Webhooks and document generation are meant to be tasks here too: a
``@task`` function, queued with ``.enqueue()`` inside the transaction of the
change that causes it, run by the same ``run_worker`` processes."""

from django.utils.module_loading import import_string
from django_tasks import task

from . import mail, schedule, webhooks

# Messages one task sends at most before it queues the next: a worker asked to
# stop (SIGTERM) finishes its task first, so a task must not take long.
BATCH = 200


@task()
def deliver_emails():
    """Send the e-mails that are due (see background.mail.deliver_due)."""
    return mail.deliver_due(limit=BATCH)


@task()
def run_job(name: str, slot: str):
    """Run the scheduled job ``name`` for its time slot ``slot`` (queued by
    exactly one scheduler, see background.schedule)."""
    job = schedule.job(name)
    result = import_string(job.call)()
    return {"job": name, "slot": slot, "result": result if isinstance(result, (int, str, type(None))) else str(result)}


@task()
def deliver_webhooks():
    """POST the webhook deliveries that are due (see background.webhooks.deliver_due)."""
    return webhooks.deliver_due(limit=BATCH)
