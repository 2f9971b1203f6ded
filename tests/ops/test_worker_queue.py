"""What monitoring sees of the background work (background/monitoring.py):
/readyz names "worker_queue" when work has waited too long for a worker,
and /metrics shows the queues' length and age and the failed e-mails."""

import datetime
import re

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from background.mail import queue_email
from background.models import OutgoingEmail
from background.tasks import deliver_emails

pytestmark = pytest.mark.django_db


def gauge(text, name, queue_or_status):
    match = re.search(rf'^{name}\{{\w+="{queue_or_status}"\}} (\S+)$', text, re.MULTILINE)
    return float(match.group(1))


def test_readyz_fails_when_an_email_has_waited_too_long_for_a_worker(client, settings):
    settings.WORKER_QUEUE_STUCK_SECONDS = 600
    queue_email(to=["a@example.se"], subject="Hej", body="Text")
    assert client.get("/readyz").json() == {"status": "ready"}  # just queued: a worker will take it

    OutgoingEmail.objects.update(next_attempt_at=timezone.now() - datetime.timedelta(seconds=700))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "failing": ["worker_queue"]}

    # Waiting for its next attempt after a failure (the mail server is down) is not "stuck".
    OutgoingEmail.objects.update(next_attempt_at=timezone.now() + datetime.timedelta(seconds=300))
    assert client.get("/readyz").status_code == 200
    # Sent long ago: nothing waits.
    OutgoingEmail.objects.update(status=OutgoingEmail.Status.SENT, next_attempt_at=None)
    assert client.get("/readyz").status_code == 200


def test_readyz_fails_when_a_ready_task_has_waited_too_long(client, settings):
    settings.WORKER_QUEUE_STUCK_SECONDS = 60
    deliver_emails.enqueue()
    assert client.get("/readyz").status_code == 200
    DBTaskResult.objects.update(enqueued_at=timezone.now() - datetime.timedelta(seconds=61))
    assert client.get("/readyz").json()["failing"] == ["worker_queue"]
    # a task to run later is not waiting yet
    DBTaskResult.objects.update(run_after=timezone.now() + datetime.timedelta(hours=1))
    assert client.get("/readyz").status_code == 200


def test_metrics_show_queue_length_age_and_failed_emails(client):
    text = client.get("/metrics").content.decode()
    assert gauge(text, "samverkan_queue_length", "emails") == 0
    assert gauge(text, "samverkan_queue_oldest_age_seconds", "tasks") == 0
    failed_before = gauge(text, "samverkan_outbox_messages", "failed")

    queue_email(to=["a@example.se", "b@example.se", "c@example.se"], subject="Hej", body="Text")
    OutgoingEmail.objects.filter(to_address="a@example.se").update(
        next_attempt_at=timezone.now() - datetime.timedelta(seconds=90)
    )
    OutgoingEmail.objects.filter(to_address="c@example.se").update(status=OutgoingEmail.Status.FAILED)
    deliver_emails.enqueue()

    text = client.get("/metrics").content.decode()
    assert gauge(text, "samverkan_queue_length", "emails") == 2
    assert 90 <= gauge(text, "samverkan_queue_oldest_age_seconds", "emails") < 120
    assert gauge(text, "samverkan_queue_length", "tasks") >= 1
    assert gauge(text, "samverkan_outbox_messages", "failed") == failed_before + 1
    assert gauge(text, "samverkan_outbox_messages", "pending") == 2
