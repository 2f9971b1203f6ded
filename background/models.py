"""The background worker's own tables: the e-mail outbox, its delivery
record, each person's choice of e-mail per event or a daily digest, and the
scheduler's bookkeeping. (The queue of tasks itself is django-tasks-db's.)"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import audit_reasons
from accounts.audited_models import AppendOnlyModel, AuditedModel
from accounts.history import audited_history


class OutgoingEmail(models.Model):
    """One e-mail to one address: written in the same transaction as the
    change that causes it (``background.mail.queue_email``), sent by the
    worker. A row is never deleted; its state moves pending → sent (or held →
    in a digest, or failed after the last try), and each move is recorded in
    ``DeliveryEvent``. Operational state like viewflow's task rows, so the
    reminder sweep may insert many at once."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting to be sent")
        HELD = "held", _("Held for the daily digest")
        SENT = "sent", _("Sent")
        IN_DIGEST = "in_digest", _("Sent in a daily digest")
        FAILED = "failed", _("Failed")

    created_at = models.DateTimeField(_("queued"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("queued by"),
    )
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    kind = models.CharField(_("kind"), max_length=40, blank=True)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recipient"),
    )
    to_address = models.CharField(_("to"), max_length=254)
    from_email = models.CharField(_("from"), max_length=254)
    subject = models.TextField(_("subject"))
    body = models.TextField(_("text"))
    html_body = models.TextField(_("HTML text"), blank=True)
    headers = models.JSONField(_("headers"), default=dict, blank=True)
    # The workflow step the message is about (the agreement's timeline lists it there).
    task = models.ForeignKey(
        "viewflow.Task", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("step")
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True, default=timezone.now)
    last_error = models.TextField(_("last error"), blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    digest = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="parts", verbose_name=_("digest")
    )

    class Meta:
        verbose_name = _("outgoing e-mail")
        verbose_name_plural = _("outgoing e-mails")
        indexes = [
            # The worker's question: what is due now? Only waiting rows are indexed.
            models.Index(fields=["next_attempt_at", "id"], condition=Q(status="pending"), name="outgoingemail_due_idx"),
            models.Index(fields=["recipient", "id"], condition=Q(status="held"), name="outgoingemail_held_idx"),
            models.Index(fields=["task"], name="outgoingemail_task_idx"),
            models.Index(fields=["status", "-created_at"], name="outgoingemail_status_idx"),
        ]

    def __str__(self):
        return f"{self.to_address}: {self.subject}"

    @property
    def message_id(self):
        """The Message-ID header: the same on every attempt, so a receiving
        server (and the tests) can tell a message from its copies."""
        domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "samverkan.invalid"
        return f"<samverkan.{self.pk}.{int(self.created_at.timestamp())}@{domain}>"


class DeliveryEvent(AppendOnlyModel):
    """What happened to an outgoing e-mail, and who made it happen: each
    attempt and its outcome, an administrator's retry. Append-only and
    hash-chained like every audit record, and part of the audit log."""

    class Kind(models.TextChoices):
        SENT = "sent", _("Sent")
        ATTEMPT_FAILED = "attempt_failed", _("Attempt failed; will be retried")
        FAILED = "failed", _("Failed; no more attempts")
        RETRY_REQUESTED = "retry_requested", _("Retry requested")

    email = models.ForeignKey(
        OutgoingEmail, on_delete=models.PROTECT, related_name="events", verbose_name=_("outgoing e-mail")
    )
    at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
    )
    kind = models.CharField(_("event"), max_length=20, choices=Kind.choices)
    detail = models.TextField(_("detail"), blank=True)
    worker = models.CharField(_("worker"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("e-mail delivery event")
        verbose_name_plural = _("e-mail delivery events")
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.email_id}: {self.get_kind_display()}"


class MailPreference(AuditedModel):
    """How a person wants the e-mails about their work: one per event, or one
    daily digest. Without a row: one per event."""

    class Delivery(models.TextChoices):
        EACH = "each", _("An e-mail for each event")
        DIGEST = "digest", _("One daily digest")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="mail_preference", verbose_name=_("user")
    )
    delivery = models.CharField(_("e-mail"), max_length=10, choices=Delivery.choices, default=Delivery.EACH)

    history = audited_history()

    class Meta:
        verbose_name = _("e-mail preference")
        verbose_name_plural = _("e-mail preferences")

    def __str__(self):
        return f"{self.user}: {self.get_delivery_display()}"


class ScheduledJob(models.Model):
    """The scheduler's memory: the latest slot of each job that has been
    queued. A scheduler queues a job only by moving ``last_slot`` forward in
    one UPDATE, so of two schedulers at the same moment exactly one does."""

    name = models.CharField(_("job"), max_length=100, primary_key=True)
    last_slot = models.DateTimeField(_("latest slot"), null=True, blank=True)
    last_enqueued_at = models.DateTimeField(_("queued at"), null=True, blank=True)
    last_worker = models.CharField(_("by worker"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("scheduled job")
        verbose_name_plural = _("scheduled jobs")

    def __str__(self):
        return self.name


class Webhook(AuditedModel):
    """A URL of another system that is told of events (background.webhooks).
    Registered by an administrator for an organisation, which decides which
    events it may be told of (accounts.permissions.organisation_sees)."""

    class Event(models.TextChoices):
        AGREEMENT_OPENED = "agreement.opened", audit_reasons.AGREEMENT_OPENED
        STAGE_CHANGED = "agreement.stage_changed", _("Stage changed")
        DECISION_RECORDED = "decision.recorded", _("Decision recorded")
        SIGNATURE_RECORDED = "signature.recorded", _("Signed")
        FOLLOW_UP_SUBMITTED = "follow_up.submitted", _("Follow-up handed in")
        AGREEMENT_WITHDRAWN = "agreement.withdrawn", _("Agreement withdrawn")

    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="+", verbose_name=_("organisation")
    )
    name = models.CharField(_("name"), max_length=200)
    url = models.URLField(_("URL"), max_length=500)
    events = models.JSONField(_("events"), default=list)
    secret = models.CharField(_("signing secret"), max_length=100, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    history = audited_history(excluded_fields=["secret"])

    class Meta:
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")
        ordering = ["organisation__name", "name", "pk"]

    def __str__(self):
        return f"{self.name} ({self.url})"


class WebhookDelivery(models.Model):
    """One event to one webhook: queued in the transaction of the change,
    sent by the worker, in order per agreement, retried with backoff. The
    body is kept exactly as signed and sent."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting to be sent")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    webhook = models.ForeignKey(Webhook, on_delete=models.PROTECT, related_name="deliveries", verbose_name=_("webhook"))
    event = models.CharField(_("event"), max_length=40, choices=Webhook.Event.choices)
    agreement = models.ForeignKey(
        "cases.Agreement",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("agreement"),
    )
    body = models.TextField(_("body"))
    created_at = models.DateTimeField(_("queued"), default=timezone.now)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True, default=timezone.now)
    response_code = models.PositiveSmallIntegerField(_("response code"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at", "id"], condition=Q(status="pending"), name="webhookdelivery_due_idx"
            ),
            models.Index(
                fields=["webhook", "agreement", "id"], condition=Q(status="pending"), name="webhook_order_idx"
            ),
        ]

    def __str__(self):
        return f"{self.event} → {self.webhook_id} ({self.get_status_display()})"
