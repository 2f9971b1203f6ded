"""Steps that span the domain and the process: opening an agreement starts its
process, withdrawing it cancels the open tasks, and a step's due date can be
changed. Each runs in one transaction with the process locked."""

import datetime
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from viewflow.workflow.status import STATUS

from accounts import audit_reasons as reasons
from accounts.history import audit_context
from accounts.permissions import Action, can_act_for, can_do_anywhere
from cases.agreements import services as case_services
from cases.exceptions import StepNotAllowed
from cases.workdays import day_off_reason, next_working_day

from .flows import AgreementFlow
from .models import AgreementProcess, TaskDeadline


@transaction.atomic
def agreement_open(*, actor, municipality, plan_period, title, predecessor=None):
    """Open an agreement and start its process: the draft step reaches the coordinators."""
    agreement = case_services.agreement_create(
        actor=actor, municipality=municipality, plan_period=plan_period, title=title, predecessor=predecessor
    )
    with audit_context(actor=actor, reason=reasons.AGREEMENT_OPENED):
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
    """A coordinator moves a step's due date; the reason is kept in its history.
    A due date is always a working day: one on a weekend or holiday becomes
    the next working day, and the history says so (``deadline.moved_from``
    is then the date asked for, for the page to tell)."""
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
    requested, due_on = due_on, next_working_day(due_on)
    reason = reason.strip()
    if due_on != requested:
        reason += " " + _("(%(requested)s is %(day_off)s: moved to the next working day, %(due_on)s)") % {
            "requested": formats.date_format(requested, "j F Y"),
            "day_off": day_off_reason(requested),
            "due_on": formats.date_format(due_on, "j F Y"),
        }
    deadline = TaskDeadline.objects.select_for_update().get(task=task)
    with audit_context(actor=actor, reason=reason, task_id=task.pk):
        deadline.due_on = due_on
        deadline.save()
    deadline.moved_from = requested if due_on != requested else None
    return deadline


@transaction.atomic
def agreement_renew(*, actor, agreement, plan_period, title=None):
    """Start the next period's agreement from an agreement in force or closed:
    its areas become the new draft, linked to the old agreement."""
    case_services.check_renewal(agreement=agreement, plan_period=plan_period)
    title = title or agreement.title.replace(agreement.plan_period.name, plan_period.name)
    successor = agreement_open(
        actor=actor, municipality=agreement.municipality, plan_period=plan_period, title=title, predecessor=agreement
    )
    case_services.agreement_copy_areas(actor=actor, source=agreement, target=successor)
    return successor


@transaction.atomic
def agreements_import(*, actor, file_name: str, rows: list[dict], scans=None):
    """Import agreements signed before the system (cases.agreements.services.
    agreements_import checks and creates them, in force or closed) and start
    each one's process at the flow's ``imported`` entry: in force, its yearly
    follow-ups are scheduled as for an agreement signed here; closed, its
    process ends. All in one transaction: all or nothing."""
    created = case_services.agreements_import(actor=actor, file_name=file_name, rows=rows, scans=scans)
    with audit_context(actor=actor, reason=reasons.imported_from(file_name=file_name)):
        for agreement in created:
            AgreementFlow.imported.run(agreement=agreement)
    return created


@transaction.atomic
def imported_processes_start() -> list:
    """Start the process (at the flow's ``imported`` entry) of every agreement
    imported before the import started one: in force or closed, and without a
    process (one signed in the system always has one). Its history says who
    imported it and from which file, as the import's first row did. Running
    it again starts nothing."""
    from cases.models import Agreement, Stage

    started = []
    waiting = Agreement.objects.filter(stage__in=[Stage.IN_FORCE, Stage.CLOSED], process__isnull=True)
    for agreement in waiting.select_for_update(of=("self",)).order_by("pk"):
        first = agreement.history.order_by("history_date", "history_id").first()
        with audit_context(actor=first.history_user, reason=first.history_change_reason):
            AgreementFlow.imported.run(agreement=agreement)
        started.append(agreement)
    return started


@dataclass
class OfferReport:
    opened: list
    renewed: list
    skipped: list


@transaction.atomic
def offer_all(*, actor, plan_period) -> OfferReport:
    """Open a draft, each in its own process, for every municipality that has no
    agreement in ``plan_period`` yet. Where the municipality's latest agreement is
    in force or closed, the draft starts from it (renewal). Running it again
    opens nothing twice."""
    from accounts.models import Organisation
    from cases.models import Agreement

    if not can_do_anywhere(actor, Action.DRAFT):
        raise PermissionDenied
    if not plan_period.is_active:
        raise ValidationError(_("The plan period %(period)s is closed for new agreements.") % {"period": plan_period})
    report = OfferReport(opened=[], renewed=[], skipped=[])
    for municipality in Organisation.objects.filter(kind=Organisation.Kind.MUNICIPALITY, is_active=True).order_by(
        "name"
    ):
        if Agreement.objects.live().filter(municipality=municipality, plan_period=plan_period).exists():
            report.skipped.append(municipality)
            continue
        previous = (
            Agreement.objects.filter(
                municipality=municipality,
                stage__in=case_services.RENEWABLE_STAGES,
                plan_period__starts_on__lt=plan_period.starts_on,
            )
            .order_by("-plan_period__starts_on")
            .first()
        )
        if previous is not None:
            report.renewed.append(agreement_renew(actor=actor, agreement=previous, plan_period=plan_period))
        else:
            report.opened.append(
                agreement_open(
                    actor=actor,
                    municipality=municipality,
                    plan_period=plan_period,
                    title=_("Agreement on cultural cooperation %(municipality)s %(period)s")
                    % {"municipality": municipality.name, "period": plan_period.name},
                )
            )
    return report


# ---------------------------------------------------------------------------
# Taking a step, and handing a taken step over (viewflow's assign, unassign, reassign)
# ---------------------------------------------------------------------------


def _locked_open_task(task):
    """Re-read ``task`` inside the process lock: StepNotAllowed unless still open."""
    task.refresh_from_db()
    if task.status not in (STATUS.NEW, STATUS.ASSIGNED):
        raise StepNotAllowed(_("This step is no longer open: the agreement has moved on."))
    return task


def _notify_old_owner(*, task, agreement, old_owner, actor, reason_text):
    from django.conf import settings
    from django.template.loader import render_to_string
    from django.urls import reverse
    from django.utils import translation

    from background.mail import queue_email

    with translation.override(settings.LANGUAGE_CODE):
        context = {
            "agreement": agreement,
            "step_title": str(task.flow_task.task_title),
            "actor": actor,
            "reason": reason_text,
            "url": settings.SITE_URL.rstrip("/") + reverse("workflows:agreement", args=[agreement.pk]),
        }
        queue_email(
            to=[old_owner],
            subject=render_to_string("workflows/email/step_handed_over_subject.txt", context).strip(),
            body=render_to_string("workflows/email/step_handed_over.txt", context),
            reason=reason_text,
            kind="step_handed_over",
            task=task,
            actor=actor,
        )


@transaction.atomic
def step_take(*, actor, task):
    """``actor`` takes the open step (viewflow's assign), so that others see
    who works on it; a substitute takes over one their absent colleague had
    taken (viewflow's reassign, recorded as a StepHandover "for" them)."""
    from accounts.permissions import acting_for

    from .models import StepHandover
    from .nodes import is_stand_in_for_owner

    node = task.flow_task
    with AgreementFlow.lock(task.process_id):
        task = _locked_open_task(task)
        agreement = task.process.coerced.agreement
        if task.owner_id == actor.pk:
            return task
        if not node.can_execute(actor, task, agreement.municipality):
            if task.owner_id is not None:
                raise StepNotAllowed(_("%(name)s has taken this step.") % {"name": task.owner.full_name})
            raise PermissionDenied
        activation = node.activation_class(task)
        if task.owner_id is None:
            activation.assign(actor)
        elif is_stand_in_for_owner(actor, task):
            absent = task.owner
            activation.reassign(user=actor)
            StepHandover.objects.create(
                task=task,
                from_user=absent,
                to_user=actor,
                by=actor,
                reason=reasons.on_behalf_of(
                    reason="", person=acting_for(actor, agreement.municipality, node.action, owner=absent).full_name
                ),
            )
    return task


@transaction.atomic
def step_hand_over(*, actor, task, to=None, reason: str):
    """A coordinator releases a step someone has taken (``to`` None: anyone
    who may take it can again; viewflow's unassign) or hands it to ``to``, who
    must be able to take it (viewflow's reassign). The reason is kept
    (StepHandover) and the person who had it is told by e-mail; if they try
    to complete it afterwards they get a 409."""
    from .models import StepHandover

    node = task.flow_task
    reason = (reason or "").strip()
    with AgreementFlow.lock(task.process_id):
        task = _locked_open_task(task)
        agreement = task.process.coerced.agreement
        if not can_act_for(actor, agreement.municipality, Action.DRAFT):
            raise PermissionDenied
        if task.owner_id is None:
            raise StepNotAllowed(_("Nobody has taken this step: there is nothing to hand over."))
        errors = {}
        if not reason:
            errors["reason"] = _("Say why the step is handed over.")
        if to is not None:
            if to.pk == task.owner_id:
                errors["to"] = _("%(name)s already has this step.") % {"name": to.full_name}
            elif not to.is_active or not can_act_for(to, agreement.municipality, node.action):
                errors["to"] = _("%(name)s may not take this step for %(municipality)s.") % {
                    "name": to.full_name,
                    "municipality": agreement.municipality.name,
                }
        if errors:
            raise ValidationError(errors)
        if not node.can_unassign(actor, task, agreement.municipality):
            raise PermissionDenied
        old_owner = task.owner
        activation = node.activation_class(task)
        step_title = str(node.task_title)
        if to is None:
            activation.unassign()
            reason_text = reasons.step_released(step=step_title, reason=reason)
        else:
            activation.reassign(user=to)
            reason_text = reasons.step_handed_to(step=step_title, person=to.full_name, reason=reason)
        StepHandover.objects.create(task=task, from_user=old_owner, to_user=to, by=actor, reason=reason)
        _notify_old_owner(task=task, agreement=agreement, old_owner=old_owner, actor=actor, reason_text=reason_text)
    return task
