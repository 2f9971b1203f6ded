"""The yearly follow-up (uppföljning) of an agreement in force: one per year,
with one entry per collaboration area."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.audited_models import AuditedModel
from accounts.history import audited_history


class FollowUp(AuditedModel):
    """The yearly follow-up (uppföljning) of an agreement in force."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        SUBMITTED = "submitted", _("Submitted")
        RETURNED = "returned", _("Returned for completion")
        ACCEPTED = "accepted", _("Accepted")

    agreement = models.ForeignKey(
        "cases.Agreement", on_delete=models.PROTECT, related_name="follow_ups", verbose_name=_("agreement")
    )
    year = models.PositiveIntegerField(_("year"))
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.OPEN)
    opened_at = models.DateTimeField(_("opened"), auto_now_add=True)
    submitted_by = models.ForeignKey(
        "accounts.User",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("submitted by"),
    )
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        "accounts.User",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reviewed by"),
    )
    reviewed_at = models.DateTimeField(_("reviewed"), null=True, blank=True)
    review_comment = models.TextField(_("review comment"), blank=True)

    history = audited_history()

    class Meta:
        verbose_name = _("follow-up")
        verbose_name_plural = _("follow-ups")
        ordering = ["agreement", "year"]
        constraints = [models.UniqueConstraint(fields=["agreement", "year"], name="one_follow_up_per_year")]

    def __str__(self):
        return f"{self.agreement.case_number} {self.year}"


class FollowUpEntry(AuditedModel):
    """How one collaboration area is going, in one year's follow-up."""

    class Progress(models.TextChoices):
        NOT_STARTED = "not_started", _("Not started")
        ON_TRACK = "on_track", _("On track")
        DELAYED = "delayed", _("Delayed")
        DONE = "done", _("Done")

    follow_up = models.ForeignKey(
        FollowUp, on_delete=models.PROTECT, related_name="entries", verbose_name=_("follow-up")
    )
    area = models.ForeignKey(
        "cases.CollaborationArea",
        on_delete=models.PROTECT,
        related_name="follow_up_entries",
        verbose_name=_("collaboration area"),
    )
    progress = models.CharField(_("status"), max_length=20, choices=Progress.choices, default=Progress.NOT_STARTED)
    narrative = models.TextField(_("how it is going"), blank=True)

    history = audited_history()

    class Meta:
        verbose_name = _("follow-up entry")
        verbose_name_plural = _("follow-up entries")
        ordering = ["follow_up", "area__position", "area_id"]
        constraints = [models.UniqueConstraint(fields=["follow_up", "area"], name="one_entry_per_area_and_follow_up")]

    def __str__(self):
        return f"{self.follow_up} – {self.area}"
