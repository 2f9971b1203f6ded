"""The entry point of every step URL.

viewflow's stock task views take no lock by default, check the process of the
URL rather than the task's own, and answer 500 when the lock is busy
(FlowLockFailed). Here a step is opened only by someone who may see the
agreement and take the step; a POST locks the process row (SELECT … FOR
UPDATE), re-reads the task, and runs the step's view in one transaction that
is rolled back unless the view succeeded; its history rows are written at the
end of it, so the audit chain's table locks are held only until the commit
just after. A busy lock, a step someone else has
taken or finished, or an agreement that has moved on gets a clear 409 page."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.shortcuts import render
from django.utils.translation import gettext as _
from viewflow.workflow.exceptions import FlowLockFailed
from viewflow.workflow.models import Task

from accounts.history import audit_context, deferred_history
from accounts.permissions import can_view_agreement
from cases.exceptions import StepNotAllowed
from cases.models import Agreement

from ..flows import AgreementFlow
from ..nodes import AgreementStep
from ..selectors import OPEN


def conflict(request, agreement, message, *, status=409):
    return render(request, "workflows/conflict.html", {"agreement": agreement, "message": message}, status=status)


def _load(process_pk, step, task_pk):
    node = AgreementFlow.instance.node(step, no_obsolete=True)
    if not isinstance(node, AgreementStep):
        raise Http404
    task = (
        Task.objects.select_related("owner")
        .filter(pk=task_pk, process_id=process_pk, process__flow_class=AgreementFlow, flow_task=node)
        .first()
    )
    if task is None:
        raise Http404
    return node, task


def _closed_message(task):
    if task.status == "DONE" and task.owner is not None:
        return _("This step was already completed by %(name)s on %(when)s.") % {
            "name": task.owner.full_name,
            "when": task.finished.strftime("%Y-%m-%d %H:%M") if task.finished else "",
        }
    return _("This step is no longer open: the agreement has moved on.")


@login_required
def step(request, process_pk, step, task_pk):
    node, task = _load(process_pk, step, task_pk)
    agreement = Agreement.objects.select_related("municipality", "plan_period").filter(process__pk=process_pk).first()
    if agreement is None or not can_view_agreement(request.user, agreement):
        raise Http404
    if task.status not in OPEN:
        return conflict(request, agreement, _closed_message(task))
    if not node.can_execute(request.user, task, agreement.municipality):
        if task.owner_id and task.owner_id != request.user.pk:
            return conflict(request, agreement, _("%(name)s has taken this step.") % {"name": task.owner.full_name})
        raise PermissionDenied(_("You may not take this step."))

    if request.method != "POST":
        return node.view(request, agreement=agreement, task=task, node=node)

    try:
        with AgreementFlow.lock(process_pk):
            task.refresh_from_db()
            if task.status not in OPEN:
                return conflict(request, agreement, _closed_message(task))
            if not node.can_execute(request.user, task, agreement.municipality):
                return conflict(request, agreement, _("Someone else has just taken this step."))
            agreement.refresh_from_db(from_queryset=Agreement.objects.select_related("municipality", "plan_period"))
            request.activation = node.activation_class(task)
            # History last: its tables are locked from the first row to commit (accounts.history).
            with audit_context(task_id=task.pk), deferred_history():
                response = node.view(request, agreement=agreement, task=task, node=node)
                if hasattr(response, "render"):
                    response.render()
            if response.status_code >= 300 and response.status_code not in (301, 302, 303):
                transaction.set_rollback(True)
            return response
    except FlowLockFailed:
        return conflict(
            request, agreement, _("Someone else is saving this agreement right now. Wait a moment and try again.")
        )
    except StepNotAllowed as error:
        return conflict(request, agreement, error.message)
