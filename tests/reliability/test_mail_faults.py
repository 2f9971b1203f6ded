"""The mail server down, slow or refusing a recipient, and a worker killed in
the middle of a batch: steps succeed at once over HTTP, every message goes
out once the server answers, and none goes out twice. The worker runs as a
real process (`manage.py run_worker`) against the test database, the mail
server is a real SMTP server process (aiosmtpd) that the test starts and
stops; each message is recognised at the server by its Message-ID."""

import time

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from background.mail import deliver_due, queue_email
from background.models import DeliveryEvent, OutgoingEmail
from cases.models import Stage
from tests.factories import agreement_in_stage, user_with_role
from tests.factories.accounts import PASSWORD
from tests.workflows.helpers import draft_post, open_task, step_url

from .processes import SmtpServer, Worker, free_port, wait_until

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("empty_database_once"),
]
Status = OutgoingEmail.Status


@pytest.fixture
def running(tmp_path):
    """Start and always stop the processes a test starts."""
    started = []

    def start(kind, *args, **kwargs):
        process = kind(*args, **kwargs)
        started.append(process)
        return process

    yield start
    for process in reversed(started):
        process.stop()


def logged_in(user):
    client = Client(raise_request_exception=False)
    assert client.login(email=user.email, password=PASSWORD)
    return client


AREA = {"title": "Kulturskola", "goal": "Alla barn", "region_commitment": "R", "municipality_commitment": "K"}


def send_for_review(coordinator, agreement):
    """The coordinator sends the draft for review over HTTP: the review step
    reaches the municipality's cultural head, who gets an e-mail. Returns
    (response, seconds the request took)."""
    url = step_url(open_task(agreement, "draft"))
    started = time.monotonic()
    response = logged_in(coordinator).post(url, draft_post(agreement.title, [AREA], submit=True))
    return response, time.monotonic() - started


def the_email_to(user):
    return OutgoingEmail.objects.get(to_address=user.email, kind="step_reached")


def test_mail_server_down_the_step_succeeds_and_the_message_goes_out_once_it_answers(tmp_path, running):
    coordinator = user_with_role(Role.COORDINATOR)
    head = user_with_role(Role.CULTURAL_HEAD, "Mora")
    agreement = agreement_in_stage(Stage.DRAFTING, coordinator=coordinator, head=head)
    port = free_port()  # nothing listens there yet: the mail server is down
    running(Worker, tmp_path, EMAIL_URL=f"smtp://127.0.0.1:{port}")

    response, seconds = send_for_review(coordinator, agreement)
    assert response.status_code == 302 and seconds < 5
    email = the_email_to(head)

    # The worker tries, fails, and tries again later (backoff), keeping the error.
    wait_until(lambda: OutgoingEmail.objects.get(pk=email.pk).attempts >= 2, timeout=30, message="two failed attempts")
    email.refresh_from_db()
    assert email.status == Status.PENDING and "Connection refused" in email.last_error
    assert email.events.filter(kind=DeliveryEvent.Kind.ATTEMPT_FAILED).count() >= 2

    server = running(SmtpServer, port, tmp_path / "smtp.jsonl")
    wait_until(lambda: OutgoingEmail.objects.get(pk=email.pk).status == Status.SENT, timeout=30, message="sent")
    time.sleep(2)  # the worker keeps running: still one copy afterwards
    email.refresh_from_db()
    assert server.copies_of(email.message_id) == 1
    assert email.events.filter(kind=DeliveryEvent.Kind.SENT).count() == 1
    # Everything queued meanwhile (the coordinator's draft step too) went out, each once.
    everything = OutgoingEmail.objects.all()
    assert sorted(m["to"][0] for m in server.messages()) == sorted(e.to_address for e in everything)
    assert all(server.copies_of(e.message_id) == 1 for e in everything)


def test_a_slow_mail_server_does_not_slow_the_step(tmp_path, running):
    coordinator = user_with_role(Role.COORDINATOR)
    head = user_with_role(Role.CULTURAL_HEAD, "Mora")
    agreement = agreement_in_stage(Stage.DRAFTING, coordinator=coordinator, head=head)
    deliver_due()  # what was queued so far goes out here (in memory), not to the slow server
    port = free_port()
    server = running(SmtpServer, port, tmp_path / "smtp.jsonl", delay_data=30)
    running(Worker, tmp_path, EMAIL_URL=f"smtp://127.0.0.1:{port}")

    response, seconds = send_for_review(coordinator, agreement)
    assert response.status_code == 302 and seconds < 5  # the server takes 30 s; the step does not wait
    email = the_email_to(head)
    queued_at = time.monotonic()
    wait_until(lambda: OutgoingEmail.objects.get(pk=email.pk).status == Status.SENT, timeout=75, message="sent")
    assert time.monotonic() - queued_at >= 29  # it did wait for the slow server …
    email.refresh_from_db()
    assert email.attempts == 1  # … once, without giving up and sending again
    assert server.copies_of(email.message_id) == 1


def test_a_refused_recipient_fails_visibly_and_is_sent_again_by_an_administrator(tmp_path, running):
    coordinator = user_with_role(Role.COORDINATOR)
    head = user_with_role(Role.CULTURAL_HEAD, "Mora")
    official = user_with_role(Role.OFFICIAL, "Mora")
    administrator = user_with_role(Role.ADMINISTRATOR)
    agreement = agreement_in_stage(Stage.REVIEW, coordinator=coordinator, head=head)
    port = free_port()
    server = running(SmtpServer, port, tmp_path / "refusing.jsonl", refuse=[official.email])
    running(Worker, tmp_path, EMAIL_URL=f"smtp://127.0.0.1:{port}")

    # The head accepts the draft: the decision steps reach the coordinator, the head and the official.
    started = time.monotonic()
    response = logged_in(head).post(step_url(open_task(agreement, "review")), {"verdict": "accept"})
    assert response.status_code == 302 and time.monotonic() - started < 5
    queued = list(OutgoingEmail.objects.filter(kind="step_reached", task__isnull=False).exclude(task__status="DONE"))
    assert {e.to_address for e in queued} == {coordinator.email, head.email, official.email}
    refused = next(e for e in queued if e.to_address == official.email)

    wait_until(
        lambda: (
            OutgoingEmail.objects.filter(pk__in=[e.pk for e in queued], status__in=["sent", "failed"]).count()
            == len(queued)
        ),
        timeout=30,
        message="every message sent or failed",
    )
    refused.refresh_from_db()
    # A 5xx answer is permanent: failed at once, with the server's words.
    assert refused.status == Status.FAILED and refused.attempts == 1
    assert "550" in refused.last_error and "User unknown" in refused.last_error
    for email in queued:
        if email.pk != refused.pk:
            assert server.copies_of(OutgoingEmail.objects.get(pk=email.pk).message_id) == 1

    # The administrators' page shows it with its error; the address is mended at the server; sent again.
    admin = logged_in(administrator)
    page = admin.get(reverse("background:outbox"))
    assert page.status_code == 200
    assert official.email in page.content.decode() and "User unknown" in page.content.decode()
    server.stop()
    server = running(SmtpServer, port, tmp_path / "accepting.jsonl")
    assert admin.post(reverse("background:outbox_retry", args=[refused.pk])).status_code == 302
    wait_until(lambda: OutgoingEmail.objects.get(pk=refused.pk).status == Status.SENT, timeout=30, message="resent")
    time.sleep(1.5)
    assert server.copies_of(refused.message_id) == 1
    assert list(refused.events.values_list("kind", "user")) == [
        (DeliveryEvent.Kind.FAILED, None),
        (DeliveryEvent.Kind.RETRY_REQUESTED, administrator.pk),
        (DeliveryEvent.Kind.SENT, None),
    ]


def test_a_worker_killed_in_the_middle_of_a_batch_leaves_the_rest_to_the_next_once(tmp_path, running):
    recipients = [f"mottagare{i}@example.se" for i in range(12)]
    with transaction.atomic():
        queued = queue_email(to=recipients, subject="Ett av tolv", body="Hej", reason="Test")
    port = free_port()
    # A server that takes 0.3 s to accept each recipient: the worker is caught in the middle.
    server = running(SmtpServer, port, tmp_path / "smtp.jsonl", delay_rcpt=0.3)
    first = running(Worker, tmp_path, name="first", EMAIL_URL=f"smtp://127.0.0.1:{port}")

    def in_flight_after_four():
        entries = server.entries()
        accepted = sum(1 for e in entries if e["event"] == "data")
        started = sum(1 for e in entries if e["event"] == "rcpt")
        # Four messages accepted and committed, the fifth between RCPT and DATA.
        return accepted >= 4 and started == accepted + 1

    wait_until(in_flight_after_four, timeout=30, interval=0.02, message="a message in flight")
    first.kill()
    sent_by_first = set(
        OutgoingEmail.objects.filter(pk__in=[e.pk for e in queued], status=Status.SENT).values_list("pk", flat=True)
    )
    assert len(sent_by_first) == len(server.messages())  # what the server accepted was recorded as sent
    assert 4 <= len(sent_by_first) < len(queued)

    second = running(Worker, tmp_path, name="second", EMAIL_URL=f"smtp://127.0.0.1:{port}")
    wait_until(
        lambda: OutgoingEmail.objects.filter(pk__in=[e.pk for e in queued], status=Status.SENT).count() == len(queued),
        timeout=60,
        message="all twelve sent",
    )
    time.sleep(1)
    for email in OutgoingEmail.objects.filter(pk__in=[e.pk for e in queued]):
        assert server.copies_of(email.message_id) == 1, email.to_address
        assert email.events.filter(kind=DeliveryEvent.Kind.SENT).count() == 1
        worker = email.events.get(kind=DeliveryEvent.Kind.SENT).worker
        assert worker.endswith(f":{first.pid if email.pk in sent_by_first else second.pid}")
    assert sorted(m["to"][0] for m in server.messages()) == sorted(recipients)
