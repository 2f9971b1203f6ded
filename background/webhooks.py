"""Webhooks: other systems told of events, through an outbox like e-mail's
(background.mail).

- ``queue_event()`` is called by the services, inside the transaction of the
  change: one WebhookDelivery per active webhook subscribed to the event whose
  organisation may see the agreement (accounts.permissions.organisation_sees),
  and the worker's wake-up task with them. A step that rolls back queues nothing.
- ``deliver_due()`` is what the worker runs: each delivery is locked (``FOR
  UPDATE SKIP LOCKED``), POSTed and marked in its own transaction. A delivery
  waits while an earlier one of the same webhook and agreement is pending, so a
  receiver gets each agreement's events in order, also after being down.
- A failed attempt (no answer within WEBHOOK_TIMEOUT_SECONDS, or not a 2xx) is
  retried with exponential backoff (WEBHOOK_RETRY_SECONDS doubling up to
  WEBHOOK_RETRY_MAX_SECONDS) up to WEBHOOK_MAX_ATTEMPTS, with its response code
  and error kept; the administration lists them.
- The URL must be https (unless WEBHOOKS_ALLOW_HTTP, the demo's) and, when
  WEBHOOKS_REFUSE_PRIVATE (production), must not resolve to a private,
  loopback or link-local address: checked when registering and before each attempt.

Signature (README › API and webhooks): headers ``X-Samverkan-Timestamp`` (Unix
seconds) and ``X-Samverkan-Signature: sha256=<hex>``, the HMAC-SHA256 with the
webhook's secret of ``"<timestamp>.<body>"``."""

import datetime
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import time
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.history import audit_context
from accounts.permissions import can_administer, organisation_sees

from .models import Webhook, WebhookDelivery
from .schedule import worker_id

logger = logging.getLogger(__name__)
Status = WebhookDelivery.Status
Event = Webhook.Event


# ---------------------------------------------------------------------------
# Registering
# ---------------------------------------------------------------------------


def url_problem(url: str) -> str | None:
    """Why ``url`` may not receive deliveries, or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return _("Give a full URL, starting with https://.")
    if parts.scheme != "https" and not settings.WEBHOOKS_ALLOW_HTTP:
        return _("Only https URLs may receive events.")
    if settings.WEBHOOKS_REFUSE_PRIVATE:
        try:
            addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443)}
        except (OSError, UnicodeError):
            return _("The host name of the URL could not be found.")
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%")[0])
            if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast:
                return _("The URL points at a private address.")
    return None


def webhook_errors(*, url, events) -> dict:
    errors = {}
    if problem := url_problem(url or ""):
        errors["url"] = problem
    if not events or set(events) - set(Event.values):
        errors["events"] = _("Choose at least one event from the list.")
    return errors


@transaction.atomic
def webhook_register(*, actor, organisation, name, url, events, reason="") -> Webhook:
    """Register ``url`` to be told of ``events`` about what ``organisation`` may see."""
    from accounts import audit_reasons as reasons

    if not can_administer(actor):
        raise PermissionDenied(_("Only administrators may register webhooks."))
    if errors := webhook_errors(url=url, events=events):
        raise ValidationError(errors)
    with audit_context(actor=actor, reason=reason or reasons.WEBHOOK_REGISTERED):
        webhook = Webhook(
            organisation=organisation,
            name=name,
            url=url,
            events=sorted(set(events)),
            secret=secrets.token_hex(32),
            created_by=actor,
        )
        webhook.full_clean()
        webhook.save()
    return webhook


# ---------------------------------------------------------------------------
# Queueing (called by the services, inside their transaction)
# ---------------------------------------------------------------------------


def queue_event(event: str, agreement, data: dict | None = None) -> list[WebhookDelivery]:
    """Queue ``event`` about ``agreement`` to every webhook that wants it and may see it."""
    event = Event(event)
    wanting = Webhook.objects.filter(is_active=True).select_related("organisation")
    if connection.vendor == "postgresql":
        wanting = wanting.filter(events__contains=[event.value])
    else:  # the SQLite demo has no array lookups: its few webhooks are asked one by one
        wanting = [hook for hook in wanting if event.value in (hook.events or [])]
    hooks = [hook for hook in wanting if organisation_sees(hook.organisation, agreement.municipality_id)]
    if not hooks:
        return []
    now = timezone.now()
    payload = {
        "event": event.value,
        "occurred_at": now,
        "agreement": {
            "id": agreement.pk,
            "case_number": agreement.case_number,
            "municipality": agreement.municipality_id,
            "plan_period": agreement.plan_period_id,
            "stage": agreement.stage,
        },
        "data": data or {},
    }
    body = json.dumps(payload, cls=DjangoJSONEncoder, ensure_ascii=False, sort_keys=True)
    rows = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(webhook=hook, event=event.value, agreement=agreement, body=body, created_at=now)
            for hook in hooks
        ]
    )
    wake_worker()
    return rows


def wake_worker(at: datetime.datetime | None = None):
    """Queue the worker's webhook task (now or at ``at``) in the current transaction."""
    from .tasks import deliver_webhooks

    (deliver_webhooks if at is None else deliver_webhooks.using(run_after=at)).enqueue()


# ---------------------------------------------------------------------------
# Delivery (the worker)
# ---------------------------------------------------------------------------


def sign(secret: str, timestamp: str, body: str) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def retry_delay(attempts: int) -> datetime.timedelta:
    seconds = settings.WEBHOOK_RETRY_SECONDS * 2 ** max(attempts - 1, 0)
    return datetime.timedelta(seconds=min(seconds, settings.WEBHOOK_RETRY_MAX_SECONDS))


def _next_due():
    earlier_pending = WebhookDelivery.objects.filter(
        webhook=OuterRef("webhook"), agreement=OuterRef("agreement"), status=Status.PENDING, id__lt=OuterRef("id")
    )
    return (
        WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("webhook")
        .filter(status=Status.PENDING, next_attempt_at__lte=timezone.now())
        .exclude(Exists(earlier_pending))
        .order_by("id")
        .first()
    )


def _post(delivery: WebhookDelivery):
    """(response code or None, error text): one attempt, never following redirects."""
    hook = delivery.webhook
    if problem := url_problem(hook.url):
        return None, problem
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Samverkan-Webhooks/1",
        "X-Samverkan-Event": delivery.event,
        "X-Samverkan-Delivery": str(delivery.pk),
        "X-Samverkan-Timestamp": timestamp,
        "X-Samverkan-Signature": sign(hook.secret, timestamp, delivery.body),
    }
    try:
        response = requests.post(
            hook.url,
            data=delivery.body.encode(),
            headers=headers,
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        return None, f"{type(exc).__name__}: {exc}"[:2000]
    if 200 <= response.status_code < 300:
        return response.status_code, ""
    return response.status_code, response.text[:500]


def _attempt(delivery: WebhookDelivery):
    code, error = _post(delivery)
    delivery.attempts += 1
    delivery.response_code = code
    delivery.last_error = error
    if code is not None and 200 <= code < 300:
        delivery.status, delivery.sent_at, delivery.next_attempt_at = Status.SENT, timezone.now(), None
    elif delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        delivery.status, delivery.next_attempt_at = Status.FAILED, None
    else:
        delivery.next_attempt_at = timezone.now() + retry_delay(delivery.attempts)
    delivery.save(update_fields=["status", "attempts", "response_code", "last_error", "next_attempt_at", "sent_at"])
    if delivery.status != Status.SENT:
        logger.warning("Webhook delivery %s to %s: %s %s", delivery.pk, delivery.webhook.url, code, error[:200])
    return delivery.status == Status.SENT


def deliver_due(*, worker: str | None = None, limit: int | None = None) -> int:
    """POST the deliveries that are due, each in its own transaction; returns how many were sent."""
    worker = worker or worker_id()
    sent = tried = 0
    failed = False
    while limit is None or tried < limit:
        with transaction.atomic():
            delivery = _next_due()
            if delivery is None:
                break
            ok = _attempt(delivery)
        tried += 1
        sent += ok
        failed = failed or not ok
    if failed:
        upcoming = (
            WebhookDelivery.objects.filter(status=Status.PENDING, next_attempt_at__isnull=False)
            .order_by("next_attempt_at")
            .values_list("next_attempt_at", flat=True)
            .first()
        )
        if upcoming is not None:
            wake_worker(at=max(upcoming, timezone.now()))
    if limit is not None and tried >= limit:
        wake_worker()
    return sent


@transaction.atomic
def webhook_deactivate(*, actor, webhook: Webhook, reason="") -> Webhook:
    """Stop telling ``webhook`` of events (it is kept, inactive, with its deliveries)."""
    from accounts import audit_reasons as reasons

    if not can_administer(actor):
        raise PermissionDenied(_("Only administrators may change webhooks."))
    with audit_context(actor=actor, reason=reason or reasons.WEBHOOK_DEACTIVATED):
        webhook.is_active = False
        webhook.save()
    return webhook
