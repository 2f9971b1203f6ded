"""The county overview (every municipality's agreement in one plan period)
and the coverage of the plan's priorities: reads across the county, always
scoped to the user who asks.

The county overview is built with a fixed number of queries whatever the
number of municipalities: each kind of data (agreements, follow-ups, the
statuses of their areas, action points) is read once for the whole period,
as plain values rather than model instances, and matched to its
municipality in Python. Filters that would be empty lists are written as
subqueries, so no query is skipped for one row and run for fifty.

The open steps of the agreements (viewflow tasks, who must act, due dates)
belong to the workflows layer, which ``cases`` never imports: the caller reads
them (``workflows.views.overview.open_steps_for_period``) and passes them in
as ``OpenStep`` values."""

import datetime
from dataclasses import dataclass, field
from functools import cached_property

from django.db.models import Count, OuterRef, Prefetch, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Organisation
from accounts.permissions import scope_by_municipality

from ..agreements.models import LIVE_STAGES, Agreement, CollaborationArea, PlanPeriod, PlanPriority, Stage
from ..follow_ups.models import FollowUp, FollowUpEntry
from ..meetings.models import ActionPoint
from ..swedish import swedish_key


def _municipalities(user):
    queryset = Organisation.objects.filter(kind=Organisation.Kind.MUNICIPALITY)
    return scope_by_municipality(queryset, user, field="pk")


# ---------------------------------------------------------------------------
# The county overview
# ---------------------------------------------------------------------------

SORTS = ("municipality", "stage", "due")
NO_AGREEMENT = "none"
STAGE_ORDER = {stage.value: index for index, stage in enumerate(Stage)}
REPORTED = (FollowUp.Status.SUBMITTED, FollowUp.Status.RETURNED, FollowUp.Status.ACCEPTED)


@dataclass(frozen=True)
class OpenStep:
    """An open step of an agreement, as the workflows layer describes it."""

    agreement_id: int
    title: str
    who: str
    due_on: datetime.date | None
    escalated: bool = False  # past its due date and the coordinators told


# What a row shows is read as plain values (one row per municipality, its
# follow-ups and the statuses of its latest report), not as model instances:
# at national scale the page used to build some 7,000 of them. These small
# records carry what the templates and the CSV use, with the same names.


@dataclass(frozen=True)
class MunicipalityRef:
    pk: int
    name: str
    kommunkod: str = ""  # places it on the county's tile map (cases/overview/tilemap.py)

    def __str__(self):
        return self.name


@dataclass(frozen=True, eq=False)
class AgreementRef:
    """The overview's view of an agreement; equal to the Agreement it stands for."""

    pk: int
    case_number: str
    stage: str

    def get_stage_display(self):
        return Stage(self.stage).label

    def __eq__(self, other):
        if isinstance(other, (AgreementRef, Agreement)):
            return self.pk == other.pk
        return NotImplemented

    def __hash__(self):
        return hash(self.pk)


@dataclass(frozen=True)
class FollowUpRef:
    pk: int
    year: int
    status: str

    def get_status_display(self):
        return FollowUp.Status(self.status).label


@dataclass(frozen=True)
class AreaRef:
    pk: int
    title: str


@dataclass(frozen=True)
class AreaStatus:
    """One area's progress in a follow-up (as FollowUpEntry: ``.area.title``, ``.progress``)."""

    area: AreaRef
    progress: str

    def get_progress_display(self):
        return FollowUpEntry.Progress(self.progress).label


@dataclass
class OverviewRow:
    """One municipality in one plan period."""

    municipality: MunicipalityRef
    agreement: AgreementRef | None
    today: datetime.date
    steps: list = field(default_factory=list)  # OpenStep, soonest due first
    latest_follow_up: FollowUpRef | None = None
    reported_follow_up: FollowUpRef | None = None
    area_statuses: list = field(default_factory=list)  # AreaStatus of reported_follow_up, in the areas' order
    open_action_points: int = 0
    overdue_action_points: int = 0

    @property
    def stage(self):
        return self.agreement.stage if self.agreement else NO_AGREEMENT

    @property
    def stage_label(self):
        return self.agreement.get_stage_display() if self.agreement else _("No agreement")

    @cached_property
    def next_due(self):
        dates = [s.due_on for s in self.steps if s.due_on]
        return min(dates) if dates else None

    @cached_property
    def overdue_steps(self):
        return [s for s in self.steps if s.due_on and s.due_on < self.today]

    @cached_property
    def who(self):
        seen = []
        for step in self.steps:  # sorted by due date, then title
            if step.who not in seen:
                seen.append(step.who)
        return "; ".join(seen)

    @property
    def is_overdue(self):
        return bool(self.overdue_steps) or self.overdue_action_points > 0


def _chosen_agreement_id(user, plan_period):
    """Per municipality (a subquery on it): the id of the agreement the overview
    shows, its live one in the period, else its latest ended one. The live one
    is found through the index of live agreements, so the page never reads
    every withdrawn or rejected attempt of the period."""
    in_period = Agreement.objects.for_user(user).filter(plan_period=plan_period, municipality=OuterRef("pk"))
    latest = ("-created_at", "-pk")
    return Coalesce(
        Subquery(in_period.filter(stage__in=sorted(LIVE_STAGES)).order_by(*latest).values("pk")[:1]),
        Subquery(in_period.order_by(*latest).values("pk")[:1]),
    )


def _step_order(step):
    return (step.due_on or datetime.date.max, step.title)


def county_overview(
    user,
    *,
    plan_period: PlanPeriod,
    open_steps=(),
    stage: str = "",
    overdue_only: bool = False,
    sort: str = "municipality",
    today: datetime.date | None = None,
) -> list[OverviewRow]:
    """Every municipality the user may see, with its agreement in ``plan_period``:
    stage, open steps (who must act, next due date, what is overdue), the
    latest follow-up and each area's status in it, and open action points.

    Five queries, however many municipalities, each reading plain values: the
    municipalities with the id of their agreement, those agreements, their
    follow-ups, the area statuses of each one's latest report, the action
    points counted per municipality. ``stage`` filters by stage (or "none": no
    agreement), ``overdue_only`` keeps rows with something overdue, ``sort``
    is one of SORTS."""
    today = today or timezone.localdate()
    municipalities = list(
        _municipalities(user)
        .annotate(chosen_id=_chosen_agreement_id(user, plan_period))
        .order_by()
        .values_list("pk", "name", "chosen_id", "kommunkod")
    )
    # Read by id (the primary key's index), the ids sent as one array (``__any``,
    # cases/lookups.py): with no agreement in the period the queries still run,
    # so their number never varies.
    by_id = sorted(chosen for _pk, _name, chosen, _code in municipalities if chosen is not None)
    chosen = {
        pk: AgreementRef(pk, case_number, stage)
        for pk, case_number, stage in Agreement.objects.filter(pk__any=by_id)
        .order_by()
        .values_list("pk", "case_number", "stage")
    }

    # Follow-ups by year: the latest, and the latest handed in (whose areas' statuses are shown).
    latest, reported = {}, {}
    for agreement_id, pk, year, status in (
        FollowUp.objects.filter(agreement__any=by_id)
        .order_by("agreement_id", "year")
        .values_list("agreement_id", "pk", "year", "status")
    ):
        follow_up = latest[agreement_id] = FollowUpRef(pk, year, status)
        if status in REPORTED:
            reported[agreement_id] = follow_up
    statuses = {}
    for follow_up_id, area_id, title, progress in (
        FollowUpEntry.objects.filter(follow_up__any=sorted(f.pk for f in reported.values()))
        .order_by("follow_up_id", "area__position", "area_id")
        .values_list("follow_up_id", "area_id", "area__title", "progress")
    ):
        statuses.setdefault(follow_up_id, []).append(AreaStatus(AreaRef(area_id, title), progress))

    in_period = Q(meeting__held_on__gte=plan_period.starts_on, meeting__held_on__lte=plan_period.ends_on) | Q(
        agreement__plan_period=plan_period
    )
    points = {
        municipality_id: (open_count, overdue)
        for municipality_id, open_count, overdue in scope_by_municipality(
            ActionPoint.objects.filter(in_period, status=ActionPoint.Status.OPEN), user
        )
        .order_by()
        .values("municipality_id")
        .annotate(open=Count("pk"), overdue=Count("pk", filter=Q(due_on__lt=today)))
        .values_list("municipality_id", "open", "overdue")
    }

    steps = {}
    for step in open_steps:
        if step.agreement_id in chosen:
            steps.setdefault(step.agreement_id, []).append(step)

    rows = []
    for municipality_id, name, agreement_id, kommunkod in municipalities:
        agreement = chosen.get(agreement_id)
        row = OverviewRow(
            municipality=MunicipalityRef(municipality_id, name, kommunkod or ""), agreement=agreement, today=today
        )
        if agreement is not None:
            row.steps = sorted(steps.get(agreement_id, ()), key=_step_order)
            row.latest_follow_up = latest.get(agreement_id)
            row.reported_follow_up = reported.get(agreement_id)
            if row.reported_follow_up is not None:
                row.area_statuses = statuses.get(row.reported_follow_up.pk, [])
        row.open_action_points, row.overdue_action_points = points.get(municipality_id, (0, 0))
        rows.append(row)

    if stage:
        rows = [r for r in rows if r.stage == stage]
    if overdue_only:
        rows = [r for r in rows if r.is_overdue]
    return sort_rows(rows, sort)


def sort_rows(rows, sort):
    by_name = sorted(rows, key=lambda r: swedish_key(r.municipality.name))
    if sort == "stage":
        return sorted(by_name, key=lambda r: STAGE_ORDER.get(r.stage, len(STAGE_ORDER)))
    if sort == "due":
        return sorted(by_name, key=lambda r: (r.next_due is None, r.next_due or datetime.date.max))
    return by_name


# ---------------------------------------------------------------------------
# Coverage of the plan's priorities
# ---------------------------------------------------------------------------


@dataclass
class CoverageRow:
    priority: PlanPriority
    # (municipality, [areas]) in Swedish alphabetical order
    municipalities: list


@dataclass
class Coverage:
    plan_period: PlanPeriod
    covered: list  # CoverageRow
    uncovered: list  # PlanPriority


def coverage(user, *, plan_period: PlanPeriod) -> Coverage:
    """Which of the period's priorities the municipalities' collaboration areas
    link to (areas of agreements in use: not withdrawn or rejected, the area
    not removed), and which priorities no municipality has taken up."""
    areas = scope_by_municipality(
        CollaborationArea.objects.filter(
            removed_at__isnull=True, agreement__plan_period=plan_period, agreement__stage__in=LIVE_STAGES
        ),
        user,
        field="agreement__municipality",
    ).select_related("agreement__municipality")
    priorities = PlanPriority.objects.filter(plan_period=plan_period).prefetch_related(
        Prefetch("areas", queryset=areas.order_by("agreement_id", "position", "pk"), to_attr="covering_areas")
    )
    covered, uncovered = [], []
    for priority in sorted(priorities, key=lambda p: swedish_key(p.title)):
        grouped = {}
        for area in priority.covering_areas:
            grouped.setdefault(area.agreement.municipality, []).append(area)
        if grouped:
            municipalities = sorted(grouped.items(), key=lambda item: swedish_key(item[0].name))
            covered.append(CoverageRow(priority=priority, municipalities=municipalities))
        else:
            uncovered.append(priority)
    return Coverage(plan_period=plan_period, covered=covered, uncovered=uncovered)


# ---------------------------------------------------------------------------
# Follow-up at a glance: per priority, how the areas' yearly status moved
# ---------------------------------------------------------------------------

PROGRESS = [p.value for p in FollowUpEntry.Progress]
BAR_LEFT, BAR_WIDTH, BAR_HEIGHT, BAR_GAP = 52, 300, 22, 8


@dataclass
class Segment:
    progress: str
    label: str
    count: int
    x: float
    width: float

    @property
    def text_x(self):
        return self.x + self.width / 2


@dataclass
class TrendYear:
    year: int
    counts: dict  # progress -> number of areas
    y: int = 0
    segments: list = field(default_factory=list)

    @property
    def total(self):
        return sum(self.counts.values())

    @property
    def text_y(self):
        return self.y + BAR_HEIGHT - 6


@dataclass
class Trend:
    priority: PlanPriority
    areas: int  # areas in the county (of agreements in use) linked to the priority
    years: list  # TrendYear, oldest first; reported follow-ups only

    @property
    def height(self):
        return max(1, len(self.years)) * (BAR_HEIGHT + BAR_GAP)

    @property
    def width(self):
        return BAR_LEFT + BAR_WIDTH + 8


def follow_up_trends(user, *, plan_period: PlanPeriod) -> list[Trend]:
    """Per priority of the period: how many areas in the county link to it, and
    per year the status its areas were reported with (follow-ups handed in,
    returned or accepted; open ones are not yet a report). Three queries."""
    areas = scope_by_municipality(
        CollaborationArea.objects.filter(
            removed_at__isnull=True, agreement__plan_period=plan_period, agreement__stage__in=LIVE_STAGES
        ),
        user,
        field="agreement__municipality",
    )
    area_counts = dict(
        areas.filter(priorities__isnull=False)
        .order_by()
        .values("priorities")
        .annotate(n=Count("pk", distinct=True))
        .values_list("priorities", "n")
    )
    counts = {}
    for row in (
        FollowUpEntry.objects.filter(area__in=areas, follow_up__status__in=REPORTED, area__priorities__isnull=False)
        .order_by()
        .values("area__priorities", "follow_up__year", "progress")
        .annotate(n=Count("pk"))
    ):
        year = counts.setdefault(row["area__priorities"], {}).setdefault(row["follow_up__year"], {})
        year[row["progress"]] = row["n"]
    labels = dict(FollowUpEntry.Progress.choices)
    trends = []
    for priority in sorted(PlanPriority.objects.filter(plan_period=plan_period), key=lambda p: swedish_key(p.title)):
        years = []
        by_year = counts.get(priority.pk, {})
        widest = max((sum(c.values()) for c in by_year.values()), default=0)
        for index, (year, its) in enumerate(sorted(by_year.items())):
            item = TrendYear(year=year, counts={p: its.get(p, 0) for p in PROGRESS}, y=index * (BAR_HEIGHT + BAR_GAP))
            x = float(BAR_LEFT)
            for progress in PROGRESS:
                n = item.counts[progress]
                if n:
                    width = BAR_WIDTH * n / widest
                    item.segments.append(Segment(progress, str(labels[progress]), n, x, width))
                    x += width
            years.append(item)
        trends.append(Trend(priority=priority, areas=area_counts.get(priority.pk, 0), years=years))
    return trends
