"""E-mail through the outbox: queued in the same transaction as the change
that causes it, sent by the background worker, never inside a request.

- ``queue_email()`` is THE function for code that sends e-mail. A step
  that rolls back queues nothing; a step that commits has its e-mail in the
  database and the worker's wake-up call (a django-tasks task) with it.
- ``OutboxEmailBackend`` is Django's ``EMAIL_BACKEND``: ``send_mail()``,
  ``mail_admins()``, the password-reset form, anything that uses Django's
  mail API goes through ``queue_email()`` as well.
- ``deliver_due()`` is what the worker runs: each message is locked (``FOR
  UPDATE SKIP LOCKED``), sent and marked sent in its own transaction, so
  several workers on several machines never take the same message, and a
  worker killed half-way leaves the unfinished messages to the next one.
  The only gap SMTP itself leaves: a worker killed after the server accepted
  a message and before its transaction commits sends that message again
  (with the same Message-ID, which receiving systems use to drop copies).
- A failed attempt is retried with exponential backoff
  (``OUTBOX_RETRY_SECONDS`` doubling up to ``OUTBOX_RETRY_MAX_SECONDS``);
  a permanent refusal (an SMTP 5xx answer) or the last of
  ``OUTBOX_MAX_ATTEMPTS`` marks it failed, with its error, on the
  administrators' page, from where ``email_retry()`` sends it again.
"""

import contextvars
import datetime
import logging
import smtplib
import socket
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts import audit_reasons
from accounts.history import audit_context
from accounts.permissions import can_manage_outgoing_email

from .models import DeliveryEvent, MailPreference, OutgoingEmail
from .schedule import worker_id

logger = logging.getLogger(__name__)
Status = OutgoingEmail.Status

# The rows queued inside an email_batch() block (None outside one).
_batch = contextvars.ContextVar("samverkan_email_batch", default=None)


# ---------------------------------------------------------------------------
# Queueing
# ---------------------------------------------------------------------------


def queue_email(
    *,
    to,
    subject: str,
    body: str,
    reason: str = "",
    kind: str = "",
    html_body: str = "",
    task=None,
    actor=None,
    digestible: bool = False,
    from_email: str | None = None,
    headers: dict | None = None,
) -> list[OutgoingEmail]:
    """Queue one e-mail to each of ``to`` (users or addresses; users without
    an address or no longer active are skipped). Call it inside the
    transaction of the change the message is about.

    ``reason``: why it is sent (kept with the message, shown to administrators);
    ``kind``: a short code (e.g. ``"reminder"``); ``task``: the workflow step it
    is about (the agreement's timeline lists it); ``actor``: who caused it.
    ``digestible``: a notice about someone's work, which goes into the daily
    digest of those who chose one (MailPreference); anything a person must
    get at once (sign-in, password) is not digestible.

    Returns the queued rows (saved at once, or at the end of an enclosing
    ``email_batch()``)."""
    rows = []
    for recipient in to:
        user = None if isinstance(recipient, str) else recipient
        address = recipient if user is None else (user.email if user.is_active else "")
        if not address:
            continue
        rows.append(
            OutgoingEmail(
                created_by=actor if getattr(actor, "pk", None) else None,
                reason=str(reason)[:300],
                kind=kind,
                recipient=user,
                to_address=address,
                from_email=from_email or settings.DEFAULT_FROM_EMAIL,
                subject=" ".join(str(subject).split()),  # one line: a header cannot hold a line break
                body=body,
                html_body=html_body,
                headers=headers or {},
                task=task,
            )
        )
        rows[-1]._digestible = digestible
    held = _batch.get()
    if held is not None:
        held.extend(rows)
    else:
        _save(rows)
    return rows


@contextmanager
def email_batch():
    """Save the e-mails queued inside the block at its end, in one INSERT (and
    wake the worker once): for code that queues many, such as the reminder
    sweep, whose number of queries must not grow with the number of messages."""
    if _batch.get() is not None:  # nested: the outer block saves
        yield
        return
    rows = []
    token = _batch.set(rows)
    try:
        yield
    finally:
        _batch.reset(token)
    _save(rows)


def _save(rows):
    if not rows:
        return
    digest_users = _digest_users({row.recipient_id for row in rows if row._digestible and row.recipient_id})
    now = timezone.now()
    for row in rows:
        row.created_at = now
        if row.recipient_id in digest_users and row._digestible:
            row.status, row.next_attempt_at = Status.HELD, None
        else:
            row.next_attempt_at = now
    OutgoingEmail.objects.bulk_create(rows)  # one statement on PostgreSQL; SQLite batches by its own limit
    if any(row.status == Status.PENDING for row in rows):
        wake_worker()


def _digest_users(user_ids):
    if not user_ids:
        return set()
    return set(
        MailPreference.objects.filter(user_id__in=user_ids, delivery=MailPreference.Delivery.DIGEST).values_list(
            "user_id", flat=True
        )
    )


def wake_worker(at: datetime.datetime | None = None):
    """Queue the worker's delivery task (now, or at ``at``), in the current
    transaction: it runs only if the messages it is to send were committed."""
    from .tasks import deliver_emails

    if at is None:
        deliver_emails.enqueue()
    else:
        deliver_emails.using(run_after=at).enqueue()


class OutboxEmailBackend(BaseEmailBackend):
    """Django's EMAIL_BACKEND: every message sent through Django's mail API
    is queued with ``queue_email()`` and sent by the worker through
    ``EMAIL_DELIVERY_BACKEND``. Each recipient (to, cc, bcc) gets a message
    of their own. A header ``X-Samverkan-Reason`` becomes the reason kept
    with it. Attachments are not supported yet."""

    def send_messages(self, email_messages):
        count = 0
        for message in email_messages:
            if message.attachments:
                raise ValueError("The outbox does not send attachments yet.")
            html = next((content for content, mime in getattr(message, "alternatives", []) if mime == "text/html"), "")
            headers = dict(message.extra_headers)
            reason = headers.pop("X-Samverkan-Reason", "")
            if message.reply_to:
                headers["Reply-To"] = ", ".join(message.reply_to)
            queue_email(
                to=message.recipients(),
                subject=message.subject,
                body=message.body,
                html_body=html,
                from_email=message.from_email,
                headers=headers,
                reason=reason,
            )
            count += 1
        return count


# ---------------------------------------------------------------------------
# Delivery (the worker)
# ---------------------------------------------------------------------------


@dataclass
class Outcome:
    sent: bool
    server_unreachable: bool = False


def retry_delay(attempts: int) -> datetime.timedelta:
    """How long to wait after the ``attempts``-th failed attempt."""
    seconds = settings.OUTBOX_RETRY_SECONDS * 2 ** max(attempts - 1, 0)
    return datetime.timedelta(seconds=min(seconds, settings.OUTBOX_RETRY_MAX_SECONDS))


def _smtp_codes(exc):
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return [code for code, _message in exc.recipients.values()]
    if isinstance(exc, smtplib.SMTPResponseException):
        return [exc.smtp_code]
    return []


def _is_permanent(exc):
    """An SMTP 5xx answer: the server will say the same next time."""
    codes = _smtp_codes(exc)
    return bool(codes) and all(500 <= code < 600 for code in codes)


def _is_unreachable(exc):
    """The server, not this message, is the problem: stop for now."""
    if isinstance(exc, (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError)):
        return False
    return isinstance(exc, (smtplib.SMTPException, OSError, socket.timeout))


def _describe(exc):
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{address}: {code} {message.decode(errors='replace') if isinstance(message, bytes) else message}"
            for address, (code, message) in exc.recipients.items()
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        error = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        return f"{exc.smtp_code} {error}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _close_quietly(connection):
    try:
        connection.close()
    except Exception:  # noqa: BLE001 - the connection is being dropped anyway
        logger.debug("Closing the mail connection failed", exc_info=True)


def delivery_connection():
    return get_connection(settings.EMAIL_DELIVERY_BACKEND, fail_silently=False)


def _send_one(connection, email: OutgoingEmail, worker: str) -> Outcome:
    """Send one locked message and record the outcome (inside its transaction)."""
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.body,
        from_email=email.from_email,
        to=[email.to_address],
        headers={**email.headers, "Message-ID": email.message_id},
        connection=connection,
    )
    if email.html_body:
        message.attach_alternative(email.html_body, "text/html")
    email.attempts += 1
    try:
        connection.send_messages([message])
    except Exception as exc:  # noqa: BLE001 - every failure is recorded and retried or shown
        _close_quietly(connection)
        email.last_error = _describe(exc)[:2000]
        if _is_permanent(exc) or email.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
            email.status, email.next_attempt_at, kind = Status.FAILED, None, DeliveryEvent.Kind.FAILED
        else:
            email.next_attempt_at = timezone.now() + retry_delay(email.attempts)
            kind = DeliveryEvent.Kind.ATTEMPT_FAILED
        email.save(update_fields=["status", "attempts", "next_attempt_at", "last_error"])
        DeliveryEvent.objects.create(email=email, kind=kind, detail=email.last_error, worker=worker)
        logger.warning("E-mail %s to %s: %s", email.pk, email.to_address, email.last_error)
        return Outcome(sent=False, server_unreachable=_is_unreachable(exc))
    email.status, email.sent_at, email.next_attempt_at = Status.SENT, timezone.now(), None
    email.save(update_fields=["status", "attempts", "next_attempt_at", "sent_at"])
    DeliveryEvent.objects.create(email=email, kind=DeliveryEvent.Kind.SENT, worker=worker)
    return Outcome(sent=True)


def _next_due():
    return (
        OutgoingEmail.objects.select_for_update(skip_locked=True)
        .filter(status=Status.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at", "id")
        .first()
    )


def deliver_due(*, worker: str | None = None, limit: int | None = None) -> int:
    """Send the messages that are due, one transaction each; returns how many
    were sent. Stops early when the mail server cannot be reached (each
    message keeps its own time for the next attempt), and queues a wake-up
    for the earliest retry. ``worker``: who sends, for the record (default: this process)."""
    worker = worker or worker_id()
    connection = delivery_connection()
    sent = tried = 0
    retry_pending = False
    try:
        while limit is None or tried < limit:
            with transaction.atomic():
                email = _next_due()
                if email is None:
                    break
                outcome = _send_one(connection, email, worker)
            tried += 1
            sent += outcome.sent
            retry_pending = retry_pending or not outcome.sent
            if outcome.server_unreachable:
                break
    finally:
        _close_quietly(connection)
    if retry_pending:
        _wake_for_next_retry()
    if limit is not None and tried >= limit:
        wake_worker()  # more may be waiting: a task of its own, so that a stopping worker stops soon
    return sent


def _wake_for_next_retry():
    upcoming = (
        OutgoingEmail.objects.filter(status=Status.PENDING, next_attempt_at__isnull=False)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    if upcoming is not None:
        wake_worker(at=max(upcoming, timezone.now()))


@transaction.atomic
def email_retry(*, actor, email: OutgoingEmail) -> OutgoingEmail:
    """An administrator sends a failed message again: it gets all its attempts anew."""
    if not can_manage_outgoing_email(actor):
        raise PermissionDenied
    email = OutgoingEmail.objects.select_for_update().get(pk=email.pk)
    if email.status != Status.FAILED:
        raise ValidationError(_("Only a failed e-mail can be sent again."))
    email.status, email.attempts, email.next_attempt_at = Status.PENDING, 0, timezone.now()
    email.save(update_fields=["status", "attempts", "next_attempt_at"])
    DeliveryEvent.objects.create(email=email, kind=DeliveryEvent.Kind.RETRY_REQUESTED, user=actor)
    wake_worker()
    return email


# ---------------------------------------------------------------------------
# The daily digest and each person's choice
# ---------------------------------------------------------------------------


def send_digests() -> int:
    """Put each person's held messages into one e-mail (the daily digest);
    returns how many digests were queued. Rows held by another run at the
    same moment are skipped (never in two digests)."""
    with transaction.atomic():
        held = list(
            OutgoingEmail.objects.select_for_update(skip_locked=True)
            .filter(status=Status.HELD)
            .order_by("recipient_id", "to_address", "created_at", "id")
        )
        groups = {}
        for row in held:
            groups.setdefault((row.recipient_id, row.to_address), []).append(row)
        with translation.override(settings.LANGUAGE_CODE):
            for (_recipient_id, address), parts in groups.items():
                context = {"parts": parts, "count": len(parts), "site_url": settings.SITE_URL.rstrip("/")}
                digest = OutgoingEmail.objects.create(
                    reason=_("Daily digest"),
                    kind="digest",
                    recipient=parts[0].recipient,
                    to_address=address,
                    from_email=settings.DEFAULT_FROM_EMAIL,
                    subject=" ".join(render_to_string("background/email/digest_subject.txt", context).split()),
                    body=render_to_string("background/email/digest.txt", context),
                )
                OutgoingEmail.objects.filter(pk__in=[p.pk for p in parts]).update(
                    status=Status.IN_DIGEST, digest=digest, next_attempt_at=None
                )
        if groups:
            wake_worker()
    return len(groups)


def mail_preference_of(user) -> str:
    preference = MailPreference.objects.filter(user=user).first()
    return preference.delivery if preference else MailPreference.Delivery.EACH


@transaction.atomic
def mail_preference_set(*, actor, user, delivery: str) -> MailPreference:
    """A person chooses between an e-mail per event and a daily digest (for
    themselves only). Choosing e-mail per event sends what was held at once."""
    if actor.pk != user.pk:
        raise PermissionDenied
    if delivery not in MailPreference.Delivery.values:
        raise ValidationError({"delivery": _("Choose one of the options.")})
    with audit_context(actor=actor, reason=audit_reasons.MAIL_PREFERENCE_CHANGED):
        preference = MailPreference.objects.select_for_update().filter(user=user).first()
        if preference is None:
            preference = MailPreference(user=user)
        if preference.pk is None or preference.delivery != delivery:
            preference.delivery = delivery
            preference.save()
    if delivery == MailPreference.Delivery.EACH:
        released = OutgoingEmail.objects.filter(recipient=user, status=Status.HELD).update(
            status=Status.PENDING, next_attempt_at=timezone.now()
        )
        if released:
            wake_worker()
    return preference
