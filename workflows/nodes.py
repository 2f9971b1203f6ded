"""The human step of the agreement flow.

A viewflow ``View`` node whose permission is an object permission on the
agreement's municipality (from accounts.permissions), which gets a due date and
notifies the people who must act when it is created, and whose stock frontend
views (assign, unassign, cancel, undo, revive, detail) are switched off.

Its view is wrapped as viewflow wraps a task view (``wrap_step_view``, in the
place of viewflow.workflow.flow.utils.wrap_view): the node's ``can_execute``
decides, the flow's ``lock_impl`` (workflows.locks) serialises the POSTs, and
the wrapper adds what the stock one lacks: 409 pages, rollback unless the
step's view redirects, and history written last."""

import datetime
from functools import update_wrapper

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from viewflow.workflow import flow
from viewflow.workflow.exceptions import FlowLockFailed
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from accounts import reauth
from accounts.history import audit_context, deferred_history
from accounts.permissions import (
    acting_for,
    can_act_for,
    can_hand_over_steps,
    can_view_agreement,
    perm_name,
    substitutes_now,
)
from cases import display
from cases.exceptions import StepNotAllowed
from cases.models import Agreement
from cases.workdays import add_working_days

from .models import TaskDeadline
from .notifications import notify_step_reached
from .views.conflict import conflict

# The statuses of a step that is still to be taken.
OPEN = (STATUS.NEW, STATUS.ASSIGNED)


def _municipality_of(process):
    return process.coerced.agreement.municipality


class AgreementStep(flow.View):
    """A step a person takes on an agreement: ``action`` says who may take it."""

    index_view_class = None
    detail_view_class = None
    cancel_view_class = None
    undo_view_class = None
    revive_view_class = None
    assign_view_class = None
    unassign_view_class = None

    def __init__(self, view, *, action, title, **kwargs):
        super().__init__(view, **kwargs)
        self.action = action
        self.Annotation(title=title)
        self.Permission(perm_name(action), obj=_municipality_of)
        # Nodes are copied into the flow class, so resolve the step at call time.
        self.onCreate(lambda activation: activation.flow_task._step_created(activation))

    @property
    def view_path(self):
        return None  # served by workflows.urls ("workflows:step", see serve_step), not by viewflow's viewset

    @property
    def step_view(self):
        """This step's view, wrapped (see wrap_step_view)."""
        return wrap_step_view(self, self.view)

    def default_due_on(self) -> datetime.date:
        """STEP_DUE_DAYS[step] Swedish working days from today: never a weekend or a holiday."""
        return add_working_days(timezone.localdate(), settings.STEP_DUE_DAYS[self.name])

    def _step_created(self, activation):
        task = activation.task
        agreement = activation.process.agreement
        deadline = TaskDeadline.objects.create(task=task, due_on=self.default_due_on())
        notify_step_reached(
            task=task,
            agreement=agreement,
            action=self.action,
            step_title=str(self.task_title),
            due_on=deadline.due_on,
        )

    # viewflow's permission hooks. Both ask accounts.permissions.can_act_for, which
    # checks this step's permission (perm_name(action), as in .Permission above) on
    # the agreement's municipality: the question viewflow itself would ask.
    # ``municipality``: the task's agreement's, when the caller has it at hand
    # (otherwise it is read through the process).

    def can_assign(self, user, task, municipality=None) -> bool:
        """May ``user`` claim the task? Nobody has, and the step is theirs to take."""
        if task.owner_id is not None or user is None or not user.is_authenticated:
            return False
        return can_act_for(user, municipality or _municipality_of(task.process), self.action)

    def can_execute(self, user, task, municipality=None) -> bool:
        """May ``user`` take the step now (claiming it if nobody has, or taking
        it over from an absent person they stand in for) and complete it?"""
        taken_by_another = task.owner_id is not None and task.owner_id != getattr(user, "pk", None)
        if taken_by_another and not is_stand_in_for_owner(user, task):
            return False
        return can_act_for(user, municipality or _municipality_of(task.process), self.action)

    def can_unassign(self, user, task, municipality=None) -> bool:
        """May ``user`` release the taken task, or hand it to someone else
        (viewflow's unassign and reassign)? A coordinator may."""
        if task.owner_id is None or user is None or not user.is_authenticated:
            return False
        return can_hand_over_steps(user, municipality or _municipality_of(task.process))


def is_stand_in_for_owner(user, task) -> bool:
    """Is the one who took ``task`` away, with ``user`` as their substitute now?"""
    return task.owner_id is not None and task.owner_id in substitutes_now(user)


def complete_task(activation, user):
    """Claim the task for ``user`` (if nobody has) and complete it."""
    if activation.task.owner_id is None:
        activation.assign(user)
    elif activation.task.owner_id != user.pk:  # a substitute completes what the absent person took
        activation.reassign(user=user)
    activation.start(None)
    activation.execute()


# ---------------------------------------------------------------------------
# The view wrapper
# ---------------------------------------------------------------------------


def _closed_message(task):
    if task.status == STATUS.DONE and task.owner is not None:
        return _("This step was already completed by %(name)s on %(when)s.") % {
            "name": task.owner.full_name,
            "when": display.when(task.finished),
        }
    return _("This step is no longer open: the agreement has moved on.")


def wrap_step_view(node, view):
    """Wrap a step's view as viewflow's wrap_view does, with our additions.

    Before the lock, one check: ``node.can_execute``. Only when it says no is
    the reason looked for: 404 for one who may not see the agreement, 409 for
    a step finished or taken by someone else, otherwise 403. A GET shows the
    step. A POST takes the process lock (the flow's lock_impl), re-reads the
    task (finished or taken meanwhile: 409) and runs the view in the lock's
    transaction, which is rolled back unless the view redirects; inside, the
    step's service makes its own permission check. The history rows are
    written at the end (accounts.history.deferred_history), so the audit
    chain's table locks are held only until the commit just after. A busy lock
    or an agreement that has moved on (StepNotAllowed) is a 409 too."""

    def wrapped(request, task):
        user = request.user
        agreement = (
            Agreement.objects.select_related("municipality", "plan_period").filter(process__pk=task.process_id).first()
        )
        if agreement is None:
            raise Http404
        if not node.can_execute(user, task, agreement.municipality):
            if not can_view_agreement(user, agreement):
                raise Http404
            if task.status not in OPEN:
                return conflict(request, agreement, _closed_message(task))
            if task.owner_id is not None and task.owner_id != user.pk:
                return conflict(request, agreement, _("%(name)s has taken this step.") % {"name": task.owner.full_name})
            raise PermissionDenied(_("You may not take this step."))
        if task.status not in OPEN:
            return conflict(request, agreement, _closed_message(task))
        if request.method != "POST":
            return view(request, agreement=agreement, task=task, node=node)

        try:
            return locked_step(request, agreement, task, node, view)
        finally:
            # Wrong signing passwords: counted toward the lock-out now that the step's
            # transaction (which rolled back their failure rows) has ended (accounts.reauth).
            reauth.replay_failures(request)

    def locked_step(request, agreement, task, node, view):
        user = request.user
        try:
            with node.flow_class.lock(task.process_id):
                task.refresh_from_db()
                if task.status not in OPEN:
                    return conflict(request, agreement, _closed_message(task))
                if task.owner_id is not None and task.owner_id != user.pk and not is_stand_in_for_owner(user, task):
                    return conflict(request, agreement, _("Someone else has just taken this step."))
                agreement.refresh_from_db(from_queryset=Agreement.objects.select_related("municipality", "plan_period"))
                request.activation = node.activation_class(task)
                # History last: its tables are locked from the first row to commit (accounts.history).
                # A substitute's step says for whom (accounts.history adds it to every row's reason).
                behalf = acting_for(user, agreement.municipality, node.action, owner=task.owner)
                with audit_context(task_id=task.pk, on_behalf_of=behalf), deferred_history():
                    response = view(request, agreement=agreement, task=task, node=node)
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

    update_wrapper(wrapped, view)
    return wrapped


@login_required
def serve_step(request, process_pk, step, task_pk):
    """The view of every step URL ("workflows:step"): the task of that process
    and step is served by its node's wrapped view; anything else is a 404."""
    task = Task.objects.select_related("owner").filter(pk=task_pk, process_id=process_pk).first()
    node = task.flow_task if task is not None else None
    if not isinstance(node, AgreementStep) or node.name != step:
        raise Http404
    return node.step_view(request, task)
