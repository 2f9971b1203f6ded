"""The forum Regional kulturdialog: its meetings and the action points they agree."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.audited_models import AuditedModel
from accounts.history import audited_history


class DialogueMeeting(AuditedModel):
    """A meeting of the forum Regional kulturdialog."""

    held_on = models.DateField(_("date"))
    place = models.CharField(_("place"), max_length=200)
    participants = models.ManyToManyField(
        "accounts.Organisation",
        related_name="dialogue_meetings",
        verbose_name=_("participating municipalities"),
        limit_choices_to={"kind": "municipality"},
    )
    partners = models.ManyToManyField(
        "accounts.Organisation",
        blank=True,
        related_name="dialogue_meetings_as_partner",
        verbose_name=_("participating partners"),
        limit_choices_to={"kind": "partner"},
        help_text=_("County cultural institutions and folk high schools that took part."),
    )
    minutes = models.TextField(_("minutes"), blank=True)
    minutes_file = models.FileField(_("minutes (file)"), upload_to="meetings/%Y/", blank=True)
    minutes_file_name = models.CharField(_("file name"), max_length=255, blank=True)
    minutes_file_sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    minutes_file_size = models.PositiveBigIntegerField(_("size in bytes"), null=True, blank=True)
    created_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", verbose_name=_("recorded by")
    )
    created_at = models.DateTimeField(_("recorded"), auto_now_add=True)

    history = audited_history(m2m_fields=[participants, partners])

    class Meta:
        verbose_name = _("dialogue meeting")
        verbose_name_plural = _("dialogue meetings")
        ordering = ["-held_on", "-pk"]

    def __str__(self):
        return f"Regional kulturdialog {self.held_on}, {self.place}"


class ActionPoint(AuditedModel):
    """Something a dialogue meeting agreed to do, for one municipality."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        DONE = "done", _("Done")

    meeting = models.ForeignKey(
        DialogueMeeting, on_delete=models.PROTECT, related_name="action_points", verbose_name=_("meeting")
    )
    municipality = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="action_points", verbose_name=_("municipality")
    )
    agreement = models.ForeignKey(
        "cases.Agreement",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="action_points",
        verbose_name=_("agreement"),
    )
    area = models.ForeignKey(
        "cases.CollaborationArea",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="action_points",
        verbose_name=_("collaboration area"),
    )
    description = models.TextField(_("what is to be done"))
    owner_name = models.CharField(_("owner"), max_length=200)
    due_on = models.DateField(_("due date"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)

    history = audited_history()

    class Meta:
        verbose_name = _("action point")
        verbose_name_plural = _("action points")
        ordering = ["due_on", "pk"]

    def __str__(self):
        return self.description[:60]
