"""The outbox in one process: what is queued is in the change's transaction,
Django's own mail API goes through it, the worker's delivery sends each
message once, a failure is retried with backoff and shown after the last
attempt, and each person's choice of e-mail per event or daily digest is
kept. The mail server here is the test settings' in-memory one, or a port
where nothing listens; tests/reliability runs the worker as a process
against a real SMTP server."""

import datetime

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives, send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts.models import Role
from background.mail import (
    deliver_due,
    email_retry,
    mail_preference_of,
    queue_email,
    retry_delay,
    send_digests,
)
from background.models import DeliveryEvent, MailPreference, OutgoingEmail
from tests.factories import user_with_role
from tests.reliability.processes import free_port
from tests.workflows.helpers import login

pytestmark = pytest.mark.django_db
Status = OutgoingEmail.Status


def wake_ups():
    return DBTaskResult.objects.filter(task_path="background.tasks.deliver_emails").count()


def test_an_email_is_queued_with_the_change_and_rolled_back_with_it(mora_head):
    with pytest.raises(RuntimeError), transaction.atomic():
        queue_email(to=[mora_head], subject="Försvinner", body="…", reason="Test")
        raise RuntimeError("the change fails")
    assert not OutgoingEmail.objects.exists() and wake_ups() == 0

    with transaction.atomic():
        (email,) = queue_email(to=[mora_head, "extern@example.se"][:1], subject="Stannar\nkvar", body="Hej", reason="R")
    assert email.status == Status.PENDING and email.recipient == mora_head and email.subject == "Stannar kvar"
    assert wake_ups() == 1  # the worker's task was queued in the same transaction


def test_inactive_users_and_users_without_an_address_get_nothing(mora_head, mora_official):
    mora_official.is_active = False
    assert queue_email(to=[mora_head, mora_official, ""], subject="S", body="B") == [
        OutgoingEmail.objects.get(to_address=mora_head.email)
    ]


def test_djangos_mail_api_goes_through_the_outbox(settings):
    # Django's test runner swaps EMAIL_BACKEND for its in-memory one; the application's is the outbox.
    settings.EMAIL_BACKEND = "background.mail.OutboxEmailBackend"
    message = EmailMultiAlternatives(
        "Ämne", "Text", "avsandare@example.se", ["a@example.se"], cc=["b@example.se"], reply_to=["svar@example.se"]
    )
    message.attach_alternative("<p>Text</p>", "text/html")
    message.send()
    send_mail("Andra", "Text", None, ["c@example.se"])
    assert mail.outbox == []  # nothing left in the request
    rows = OutgoingEmail.objects.order_by("to_address")
    assert [(r.to_address, r.subject) for r in rows] == [
        ("a@example.se", "Ämne"),
        ("b@example.se", "Ämne"),
        ("c@example.se", "Andra"),
    ]
    assert rows[0].html_body == "<p>Text</p>" and rows[0].headers == {"Reply-To": "svar@example.se"}

    assert deliver_due() == 3
    assert sorted(m.to[0] for m in mail.outbox) == ["a@example.se", "b@example.se", "c@example.se"]
    first = next(m for m in mail.outbox if m.to == ["a@example.se"])
    assert first.alternatives[0][0] == "<p>Text</p>" and first.extra_headers["Reply-To"] == "svar@example.se"
    assert first.extra_headers["Message-ID"] == rows[0].message_id


def test_the_worker_sends_each_message_once_and_records_it():
    (email,) = queue_email(to=["a@example.se"], subject="En gång", body="Hej")
    assert deliver_due(worker="test-worker") == 1
    assert deliver_due() == 0
    assert len(mail.outbox) == 1
    email.refresh_from_db()
    assert email.status == Status.SENT and email.attempts == 1 and email.sent_at is not None
    assert list(email.events.values_list("kind", "worker")) == [(DeliveryEvent.Kind.SENT, "test-worker")]


def test_a_failed_attempt_is_retried_with_backoff_then_failed_and_sent_again_by_an_administrator(
    settings, client, administrator, time_machine
):
    settings.EMAIL_DELIVERY_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 5
    settings.OUTBOX_MAX_ATTEMPTS = 3
    time_machine.move_to(timezone.now(), tick=False)
    (email,) = queue_email(to=["a@example.se"], subject="Nere", body="Hej")

    assert deliver_due() == 0
    email.refresh_from_db()
    assert email.status == Status.PENDING and email.attempts == 1 and "Connection refused" in email.last_error
    assert email.next_attempt_at == timezone.now() + retry_delay(1)
    assert deliver_due() == 0  # not due yet
    assert OutgoingEmail.objects.get(pk=email.pk).attempts == 1
    assert wake_ups() == 2  # when it was queued, and a wake-up at the time of the retry
    for _attempt in (2, 3):
        time_machine.move_to(OutgoingEmail.objects.get(pk=email.pk).next_attempt_at, tick=False)
        deliver_due()
    email.refresh_from_db()
    assert email.status == Status.FAILED and email.attempts == 3 and email.next_attempt_at is None
    assert list(email.events.values_list("kind", flat=True)) == ["attempt_failed", "attempt_failed", "failed"]

    # The administrators' page shows it; they send it again once the server is back.
    login(client, administrator)
    page = client.get(reverse("background:outbox")).content.decode()
    assert "a@example.se" in page and "Connection refused" in page and "Skicka igen" in page
    settings.EMAIL_DELIVERY_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert client.post(reverse("background:outbox_retry", args=[email.pk])).status_code == 302
    assert deliver_due() == 1 and len(mail.outbox) == 1
    email.refresh_from_db()
    assert email.status == Status.SENT
    assert email.events.get(kind=DeliveryEvent.Kind.RETRY_REQUESTED).user == administrator
    # A message that has not failed cannot be "sent again": said on the page, nothing done.
    response = client.post(reverse("background:outbox_retry", args=[email.pk]), follow=True)
    assert "Bara ett misslyckat e-postmeddelande kan skickas igen." in response.content.decode()
    assert email.events.count() == 5


def test_backoff_doubles_up_to_its_ceiling(settings):
    settings.OUTBOX_RETRY_SECONDS, settings.OUTBOX_RETRY_MAX_SECONDS = 60, 3600
    assert [retry_delay(n).total_seconds() for n in range(1, 9)] == [60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_only_administrators_see_the_outbox(client, coordinator, auditor, administrator):
    for user in (coordinator, auditor):
        login(client, user)
        assert client.get(reverse("background:outbox")).status_code == 403
        assert client.post(reverse("background:outbox_retry", args=[1])).status_code == 403
        assert "Utgående e-post" not in client.get(reverse("workflows:inbox")).content.decode()
    login(client, administrator)
    assert client.get(reverse("background:outbox"), {"status": "nonsense"}).status_code == 400
    assert client.get(reverse("background:outbox"), {"status": "sent"}).status_code == 200
    assert client.post(reverse("background:outbox_retry", args=[999999])).status_code == 404
    assert client.get(reverse("background:outbox_retry", args=[1])).status_code == 405


def test_a_person_chooses_a_daily_digest_on_their_own_page(client, mora_head, time_machine):
    login(client, mora_head)
    url = reverse("background:preferences")
    assert "En daglig sammanfattning" in client.get(url).content.decode()
    response = client.post(url, {"delivery": "weekly"})
    assert response.status_code == 400 and "Välj ett av alternativen." in response.content.decode()
    assert client.post(url, {"delivery": "digest"}).status_code == 302
    assert mail_preference_of(mora_head) == MailPreference.Delivery.DIGEST
    record = MailPreference.history.get(user=mora_head)
    assert record.history_user == mora_head and record.history_change_reason == "E-postinställningen ändrades"

    first = queue_email(to=[mora_head], subject="Steget nådde dig", body="Ett", digestible=True)[0]
    second = queue_email(to=[mora_head], subject="Påminnelse", body="Två", digestible=True)[0]
    urgent = queue_email(to=[mora_head], subject="Inloggning", body="Genast")[0]  # not digestible
    assert [OutgoingEmail.objects.get(pk=e.pk).status for e in (first, second, urgent)] == ["held", "held", "pending"]

    time_machine.move_to(timezone.now() + datetime.timedelta(hours=1))
    assert send_digests() == 1
    assert send_digests() == 0  # the held ones are in one digest only
    deliver_due()
    assert sorted(m.subject for m in mail.outbox) == ["Inloggning", "[Samverkan] Daglig sammanfattning: 2 meddelanden"]
    digest = next(m for m in mail.outbox if "sammanfattning" in m.subject)
    assert "Steget nådde dig" in digest.body and "Två" in digest.body and digest.to == [mora_head.email]
    assert set(OutgoingEmail.objects.filter(pk__in=[first.pk, second.pk]).values_list("status", flat=True)) == {
        "in_digest"
    }

    # Back to an e-mail per event: what was held goes at once.
    held = queue_email(to=[mora_head], subject="Hålls", body="…", digestible=True)[0]
    login(client, mora_head)  # an hour has passed: the idle session has ended
    assert client.post(url, {"delivery": "each"}).status_code == 302
    assert OutgoingEmail.objects.get(pk=held.pk).status == Status.PENDING


def test_nobody_changes_another_persons_setting(mora_head, mora_official):
    from django.core.exceptions import PermissionDenied

    from background.mail import mail_preference_set

    with pytest.raises(PermissionDenied):
        mail_preference_set(actor=mora_official, user=mora_head, delivery="digest")
    with pytest.raises(PermissionDenied):
        email_retry(
            actor=user_with_role(Role.COORDINATOR), email=queue_email(to=["a@example.se"], subject="S", body="B")[0]
        )
