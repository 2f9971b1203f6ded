from django.db import models
from django.utils.translation import gettext_lazy as _
from viewflow.workflow.models import Process, Task

from accounts.audited_models import AuditedModel
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
