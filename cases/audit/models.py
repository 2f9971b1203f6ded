"""The audit trail's own records: who exported which part of the log, and the
signed checkpoints of the hash chains.

Both are append-only like every audit record (``AppendOnlyModel``: the
database refuses UPDATE, DELETE and TRUNCATE, chains the rows by hash and sets
their time). An export is itself a source of the audit log
(cases/audit/log.py), so an export shows up in the log like any change."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.audited_models import AppendOnlyModel


class AuditExport(AppendOnlyModel):
    """One export of the audit log: written when the last row has been sent
    (or the download broke off: ``complete`` is then false and ``row_count``
    says how many rows were sent)."""

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        JSONL = "jsonl", "JSON Lines"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("user")
    )
    at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    format = models.CharField(_("format"), max_length=10, choices=Format.choices)
    filters = models.JSONField(_("filters"), default=dict, blank=True)
    row_count = models.PositiveBigIntegerField(_("rows"))
    complete = models.BooleanField(_("complete"), default=True)
    ip = models.GenericIPAddressField(_("client address"), null=True, blank=True)

    class Meta:
        verbose_name = _("audit log export")
        verbose_name_plural = _("audit log exports")
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.get_format_display()} {self.at:%Y-%m-%d %H:%M} ({self.row_count})"


class AuditCheckpoint(AppendOnlyModel):
    """The heads of every hash chain at one moment, signed with an Ed25519 key
    the database never sees (cases/audit/checkpoints.py). ``message`` is the
    exact text that was signed: the heads, the signing time and the previous
    checkpoint's signature, as canonical JSON."""

    at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)  # set by the database
    message = models.TextField(_("signed message"))
    signature = models.CharField(_("signature"), max_length=128)
    key_id = models.CharField(_("key"), max_length=16)

    class Meta:
        verbose_name = _("audit checkpoint")
        verbose_name_plural = _("audit checkpoints")
        ordering = ["id"]

    def __str__(self):
        return f"#{self.pk} {self.at:%Y-%m-%d %H:%M} ({self.key_id})"
