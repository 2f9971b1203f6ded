from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from viewflow.workflow.models import Process, Task

from accounts.audited_models import AppendOnlyModel, AuditedModel, AuditedQuerySet
from accounts.history import audited_history


class AgreementProcess(Process):
    """The viewflow process of one agreement. The agreement's data lives on the
    cases models (with history); the process only links to it."""

    agreement = models.OneToOneField(
        "cases.Agreement", on_delete=models.PROTECT, related_name="process", verbose_name=_("agreement")
    )

    class Meta:
        verbose_name = _("agreement process")
        verbose_name_plural = _("agreement processes")


class TaskDeadline(AuditedModel):
    """When a human step of an agreement is due. Set from a default per step when
    the step is created; a coordinator can change it, with a reason."""

    task = models.OneToOneField(Task, on_delete=models.PROTECT, related_name="deadline", verbose_name=_("step"))
    due_on = models.DateField(_("due date"))

    history = audited_history()

    class Meta:
        verbose_name = _("due date")
        verbose_name_plural = _("due dates")

    def __str__(self):
        return f"{self.task_id}: {self.due_on}"


class NoticeQuerySet(AuditedQuerySet):
    """Notices are an append-only record: the row is itself the history, so
    inserting many at once (the daily sweep) skips nothing; changing or
    deleting stays refused, here and by the database's triggers."""

    def bulk_create(self, objs, *args, **kwargs):
        return models.QuerySet.bulk_create(self, objs, *args, **kwargs)


class StepNotice(AppendOnlyModel):
    """A reminder or an escalation of one open step for one due date, written
    by the daily sweep (workflows.reminders) with its e-mails. One per step,
    kind and due date: the sweep never sends the same notice twice, and a due
    date moved later gets its own reminders. An escalation shows the step as
    escalated in the inbox, on the agreement and in the county overview."""

    class Kind(models.TextChoices):
        BEFORE = "before", _("Reminder before the due date")
        DUE = "due", _("Reminder on the due date")
        ESCALATED = "escalated", _("Escalated to the coordinators")

    task = models.ForeignKey(Task, on_delete=models.PROTECT, related_name="notices", verbose_name=_("step"))
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    due_on = models.DateField(_("due date"))
    sent_on = models.DateField(_("sent on"))
    at = models.DateTimeField(_("time"), default=timezone.now)
    recipients = models.PositiveIntegerField(_("recipients"), default=0)

    objects = NoticeQuerySet.as_manager()

    class Meta:
        verbose_name = _("reminder or escalation")
        verbose_name_plural = _("reminders and escalations")
        constraints = [
            models.UniqueConstraint(fields=["task", "kind", "due_on"], name="one_notice_per_step_kind_and_due_date")
        ]

    def __str__(self):
        return f"{self.task_id}: {self.get_kind_display()} ({self.due_on})"


class StepHandover(AppendOnlyModel):
    """A taken step released (``to`` empty) or handed to a named person by a
    coordinator, or taken over by a substitute, with the reason: the record
    of viewflow's unassign/reassign on the task (workflows.services)."""

    task = models.ForeignKey(Task, on_delete=models.PROTECT, related_name="handovers", verbose_name=_("step"))
    from_user = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", verbose_name=_("taken by")
    )
    to_user = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", null=True, blank=True, verbose_name=_("handed to")
    )
    by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+", verbose_name=_("by"))
    reason = models.TextField(_("reason"))
    at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        verbose_name = _("step handed over")
        verbose_name_plural = _("steps handed over")

    def __str__(self):
        return f"{self.task_id}: {self.from_user_id} → {self.to_user_id or '–'}"
