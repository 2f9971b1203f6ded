"""Reads of steps (viewflow tasks), always scoped to the user who asks."""

from django.db.models import Q
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from accounts.permissions import action_scope, visible_municipality_ids

from .flows import AgreementFlow
from .nodes import AgreementStep

OPEN = (STATUS.NEW, STATUS.ASSIGNED)
AGREEMENT = "process__agreementprocess__agreement"


def steps():
    return [node for node in AgreementFlow.instance.nodes() if isinstance(node, AgreementStep)]


def _tasks():
    return Task.objects.filter(process__flow_class=AgreementFlow, flow_task_type="HUMAN").select_related(
        f"{AGREEMENT}__municipality", f"{AGREEMENT}__plan_period", "deadline", "owner"
    )


def scoped_tasks(user):
    """Every step of every agreement the user may see."""
    ids = visible_municipality_ids(user)
    queryset = _tasks()
    if ids is not None:
        queryset = queryset.filter(**{f"{AGREEMENT}__municipality__in": ids})
    return queryset


def takeable_filter(user):
    """Q for the open steps ``user`` may take now."""
    condition = Q(pk__in=[])
    for node in steps():
        scope = action_scope(user, node.action)
        if scope is None:
            condition |= Q(flow_task=node)
        elif scope:
            condition |= Q(flow_task=node, **{f"{AGREEMENT}__municipality__in": scope})
    return condition & (Q(owner__isnull=True) | Q(owner=user))


def inbox(user):
    """The steps waiting for this user: theirs to take, soonest due first."""
    return (
        scoped_tasks(user).filter(status__in=OPEN).filter(takeable_filter(user)).order_by("deadline__due_on", "created")
    )


def queue(user):
    """Every open step the user may see, whoever must take it."""
    return scoped_tasks(user).filter(status__in=OPEN).order_by("deadline__due_on", "created")


def archive(user):
    """Steps this user completed."""
    return scoped_tasks(user).filter(owner=user, status=STATUS.DONE).order_by("-finished")


def open_steps_of(agreement):
    return list(_tasks().filter(process__agreementprocess__agreement=agreement, status__in=OPEN).order_by("created"))


def step_history_of(agreement):
    return list(
        _tasks().filter(process__agreementprocess__agreement=agreement).exclude(status__in=OPEN).order_by("finished")
    )


def steps_of(agreement):
    """(open steps, oldest first; the other steps, in the order they ended) of the
    agreement's human steps, read in one query (the agreement page shows both)."""
    tasks = list(_tasks().filter(process__agreementprocess__agreement=agreement))
    open_steps = sorted((t for t in tasks if t.status in OPEN), key=lambda t: (t.created, t.pk))
    ended = sorted((t for t in tasks if t.status not in OPEN), key=lambda t: (t.finished is None, t.finished, t.pk))
    return open_steps, ended


def is_overdue(task):
    deadline = getattr(task, "deadline", None)
    return deadline is not None and task.status in OPEN and deadline.due_on < timezone.localdate()
