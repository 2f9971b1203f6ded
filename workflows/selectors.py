"""Reads of steps (viewflow tasks), always scoped to the user who asks."""

from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from accounts.permissions import action_scope, substitutes_now, visible_municipality_ids

from .flows import AgreementFlow
from .models import StepNotice
from .nodes import OPEN, AgreementStep

AGREEMENT = "process__agreementprocess__agreement"


def steps():
    return [node for node in AgreementFlow.instance.nodes() if isinstance(node, AgreementStep)]


def _human_steps():
    """The tasks of the flow's human steps, found by step name: the process
    table is not needed, so a count or a filter by status is answered from the
    task table's (status, flow_task) index alone."""
    return Task.objects.filter(flow_task__in=steps())


def escalated_flag():
    """An annotation of tasks: escalated, i.e. past the due date they have now
    and the region's coordinators told (workflows.reminders)?"""
    return Exists(
        StepNotice.objects.filter(
            task=OuterRef("pk"), kind=StepNotice.Kind.ESCALATED, due_on=OuterRef("deadline__due_on")
        )
    )


def _tasks():
    # The lists show the agreement and its municipality, not its plan period.
    return (
        _human_steps()
        .select_related(f"{AGREEMENT}__municipality", "deadline", "owner")
        .annotate(escalated=escalated_flag())
    )


@dataclass(frozen=True, slots=True)
class StepRow:
    """One row of a list of steps (inbox, queue, archive), as plain values:
    what ``workflows.templatetags.step_tables.step_rows`` writes."""

    pk: int
    process_id: int
    flow_task: object  # the flow's node
    finished: datetime | None
    escalated: bool
    due_on: date | None
    agreement_id: int
    case_number: str
    title: str
    municipality: str
    owner_name: str | None


_STEP_ROW_VALUES = {
    "due_on": F("deadline__due_on"),
    "agreement_id": F(f"{AGREEMENT}__id"),
    "case_number": F(f"{AGREEMENT}__case_number"),
    "title": F(f"{AGREEMENT}__title"),
    "municipality": F(f"{AGREEMENT}__municipality__name"),
    "owner_name": F("owner__full_name"),
}


class IdsThenRows:
    """A list of steps for the Paginator, read in two steps: the page's ids
    through ``queryset`` without its joins for display (it counts and
    orders), then those rows, as plain values (``StepRow``). At national
    scale a coordinator's queue orders 7,700 open steps: joining each to its
    process, agreement, municipality, period and owner before keeping 50 took
    150 ms; building each row's task, process, agreement, municipality, due
    date and owner as model instances was most of the page's time."""

    def __init__(self, queryset):
        self.full = queryset
        self.narrow = queryset.select_related(None)

    def count(self):
        return self.narrow.count()

    def __len__(self):
        return self.count()

    def __getitem__(self, index):
        if not isinstance(index, slice):
            return self[index : index + 1][0]
        ids = list(self.narrow.values_list("pk", flat=True)[index])
        rows = (
            self.full.order_by()
            .filter(pk__in=ids)
            .values("pk", "process_id", "flow_task", "finished", "escalated", **_STEP_ROW_VALUES)
        )
        found = {row["pk"]: StepRow(**row) for row in rows}
        return [found[pk] for pk in ids if pk in found]


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
    # Steps nobody has taken, those the user took, and those taken by someone they stand in for now.
    return condition & (Q(owner__isnull=True) | Q(owner=user) | Q(owner__in=list(substitutes_now(user))))


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


def steps_of(agreement):
    """(open steps, oldest first; the other steps, in the order they ended) of the
    agreement's human steps, read in one query (the agreement page shows both)."""
    # The page has the agreement already: no join back to it, its municipality and period (with them,
    # planning the query took 9 ms of its 10 at 100,000 agreements).
    tasks = list(
        _human_steps()
        .filter(process__agreementprocess__agreement=agreement)
        .select_related("deadline", "owner")
        .annotate(escalated=escalated_flag())
    )
    open_steps = sorted((t for t in tasks if t.status in OPEN), key=lambda t: (t.created, t.pk))
    ended = sorted((t for t in tasks if t.status not in OPEN), key=lambda t: (t.finished is None, t.finished, t.pk))
    return open_steps, ended


def overdue_steps():
    """Open steps past their due date."""
    return Task.objects.filter(status__in=OPEN, deadline__due_on__lt=timezone.localdate())


def mark_overdue(agreements):
    """Set ``overdue`` on each agreement of a page (has it an open step past
    its due date?) with one query for the page. As an EXISTS column of the
    list's own query, PostgreSQL planned it for all 100,000 agreements rather
    than the 50 shown (a hashed subplan over every due date: 60 ms)."""
    agreements = list(agreements)
    late = set()
    if agreements:
        late = set(
            overdue_steps()
            .filter(process__agreementprocess__agreement__in=[a.pk for a in agreements])
            .values_list("process__agreementprocess__agreement", flat=True)
        )
    for agreement in agreements:
        agreement.overdue = agreement.pk in late
    return agreements


def is_overdue(task):
    deadline = getattr(task, "deadline", None)
    return deadline is not None and task.status in OPEN and deadline.due_on < timezone.localdate()


def open_step_of(agreement, step_name):
    """The open task of the step ``step_name`` on ``agreement``, or None."""
    return (
        Task.objects.select_related("owner")
        .filter(
            process__agreementprocess__agreement=agreement, flow_task=getattr(AgreementFlow, step_name), status__in=OPEN
        )
        .first()
    )
