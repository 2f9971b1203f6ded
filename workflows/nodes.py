"""The human step of the agreement flow.

A viewflow ``View`` node whose permission is an object permission on the
agreement's municipality (from accounts.permissions), which gets a due date and
notifies the people who must act when it is created, and whose stock frontend
views (assign, unassign, cancel, undo, revive, detail) are switched off: our
own step view (workflows.views.steps) claims, locks and completes the task in
one transaction."""

import datetime

from django.conf import settings
from django.utils import timezone
from viewflow.workflow import flow

from accounts.permissions import can_act_for, perm_name
from cases.workdays import add_working_days

from .models import TaskDeadline
from .notifications import notify_step_reached


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
        return None  # served by workflows.urls, not by viewflow's viewset

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

    def can_take(self, user, task, municipality) -> bool:
        """May ``user`` take this step now (claim it if nobody has, and complete it)?
        ``municipality``: the task's agreement's, which the callers have at hand."""
        if task.owner_id is not None and task.owner_id != user.pk:
            return False
        return can_act_for(user, municipality, self.action)


def complete_task(activation, user):
    """Claim the task for ``user`` (if nobody has) and complete it."""
    if activation.task.owner_id is None:
        activation.assign(user)
    activation.start(None)
    activation.execute()
