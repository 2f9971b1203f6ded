"""Steps that span the domain and the process: opening an agreement starts its
process, withdrawing it cancels the open tasks, and a step's due date can be
changed. Each runs in one transaction with the process locked."""

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from viewflow.workflow.status import STATUS

from accounts.history import audit_context
from accounts.permissions import Action, can_act_for
from cases import services as case_services
from cases.exceptions import StepNotAllowed

from .flows import AgreementFlow
from .models import AgreementProcess, TaskDeadline


@transaction.atomic
def agreement_open(*, actor, municipality, plan_period, title, predecessor=None):
    """Open an agreement and start its process: the draft step reaches the coordinators."""
    agreement = case_services.agreement_create(
        actor=actor, municipality=municipality, plan_period=plan_period, title=title, predecessor=predecessor
    )
    with audit_context(actor=actor, reason=_("Agreement opened")):
        AgreementFlow.start.run(agreement=agreement)
    return agreement


@transaction.atomic
def agreement_withdraw(*, actor, agreement, reason):
    """Withdraw the agreement at any stage: its open steps are cancelled and the reason kept."""
    process = AgreementProcess.objects.get(agreement=agreement)
    with AgreementFlow.lock(process.pk):
        agreement = case_services.agreement_withdraw(actor=actor, agreement=agreement, reason=reason)
        with audit_context(actor=actor, reason=reason):
            AgreementFlow.instance.cancel(process)
    return agreement


@transaction.atomic
def step_change_due_date(*, actor, task, due_on: datetime.date, reason: str):
    """A coordinator moves a step's due date; the reason is kept in its history."""
    agreement = task.process.coerced.agreement
    if not can_act_for(actor, agreement.municipality, Action.DRAFT):
        raise PermissionDenied
    if task.status not in (STATUS.NEW, STATUS.ASSIGNED):
        raise StepNotAllowed(_("The step is no longer open."))
    errors = {}
    if due_on < timezone.localdate():
        errors["due_on"] = _("The due date cannot be in the past.")
    if not reason.strip():
        errors["reason"] = _("Say why the due date changes.")
    if errors:
        raise ValidationError(errors)
    deadline = TaskDeadline.objects.select_for_update().get(task=task)
    with audit_context(actor=actor, reason=reason.strip(), task_id=task.pk):
        deadline.due_on = due_on
        deadline.save()
    return deadline
