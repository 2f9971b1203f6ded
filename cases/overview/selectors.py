"""The county overview (every municipality's agreement in one plan period)
and the coverage of the plan's priorities: reads across the county, always
scoped to the user who asks.

The county overview is built with a fixed number of queries whatever the
number of municipalities: each kind of data (agreements, follow-ups with their
entries, action points) is read once for the whole period and matched to its
municipality in Python. Filters that would be empty lists are written as
subqueries, so no query is skipped for one row and run for fifty.

The open steps of the agreements (viewflow tasks, who must act, due dates)
belong to the workflows layer, which ``cases`` never imports: the caller reads
them (``workflows.views.overview.open_steps_for_period``) and passes them in
as ``OpenStep`` values."""

import datetime
from dataclasses import dataclass, field

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


@dataclass
class OverviewRow:
    """One municipality in one plan period."""

    municipality: Organisation
    agreement: Agreement | None
    today: datetime.date
    steps: list = field(default_factory=list)
    latest_follow_up: FollowUp | None = None
    reported_follow_up: FollowUp | None = None
    area_statuses: list = field(default_factory=list)  # FollowUpEntry of reported_follow_up, with .area
    open_action_points: int = 0
    overdue_action_points: int = 0

    @property
    def stage(self):
        return self.agreement.stage if self.agreement else NO_AGREEMENT

    @property
    def stage_label(self):
        return self.agreement.get_stage_display() if self.agreement else _("No agreement")

    @property
    def next_due(self):
        dates = [s.due_on for s in self.steps if s.due_on]
        return min(dates) if dates else None

    @property
    def overdue_steps(self):
        return [s for s in self.steps if s.due_on and s.due_on < self.today]

    @property
    def who(self):
        seen = []
        for step in sorted(self.steps, key=lambda s: (s.due_on or datetime.date.max, s.title)):
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

    Four queries, however many municipalities. ``stage`` filters by stage (or
    "none": no agreement), ``overdue_only`` keeps rows with something overdue,
    ``sort`` is one of SORTS."""
    today = today or timezone.localdate()
    municipalities = list(_municipalities(user).annotate(chosen_id=_chosen_agreement_id(user, plan_period)))
    chosen_ids = {m.chosen_id for m in municipalities if m.chosen_id is not None}
    # Read by id (the primary key's index). Id 0 is no row's: with no agreement
    # in the period the queries still run, so their number never varies.
    by_id = sorted(chosen_ids) or [0]
    chosen = {agreement.municipality_id: agreement for agreement in Agreement.objects.filter(pk__in=by_id)}

    # Follow-ups are read through their entries (one per area; an agreement
    # reaches follow-up only with at least one area): one query for both.
    follow_ups, entries = {}, {}
    for entry in (
        FollowUpEntry.objects.filter(follow_up__agreement__in=by_id)
        .select_related("follow_up", "area")
        .order_by("follow_up__agreement_id", "follow_up__year", "area__position", "area_id")
    ):
        its = follow_ups.setdefault(entry.follow_up.agreement_id, {})
        its.setdefault(entry.follow_up_id, entry.follow_up)
        entries.setdefault(entry.follow_up_id, []).append(entry)

    in_period = Q(meeting__held_on__gte=plan_period.starts_on, meeting__held_on__lte=plan_period.ends_on) | Q(
        agreement__plan_period=plan_period
    )
    points = {
        item["municipality_id"]: item
        for item in scope_by_municipality(ActionPoint.objects.filter(in_period, status=ActionPoint.Status.OPEN), user)
        .order_by()
        .values("municipality_id")
        .annotate(open=Count("pk"), overdue=Count("pk", filter=Q(due_on__lt=today)))
    }

    steps = {}
    for step in open_steps:
        if step.agreement_id in chosen_ids:
            steps.setdefault(step.agreement_id, []).append(step)

    rows = []
    for municipality in municipalities:
        agreement = chosen.get(municipality.pk)
        row = OverviewRow(municipality=municipality, agreement=agreement, today=today)
        if agreement is not None:
            agreement.municipality = municipality  # already read; spares a query per row
            agreement.plan_period = plan_period
            row.steps = sorted(steps.get(agreement.pk, []), key=lambda s: (s.due_on or datetime.date.max, s.title))
            its_follow_ups = list(follow_ups.get(agreement.pk, {}).values())  # by year
            row.latest_follow_up = its_follow_ups[-1] if its_follow_ups else None
            reported = [f for f in its_follow_ups if f.status in REPORTED]
            row.reported_follow_up = reported[-1] if reported else None
            if row.reported_follow_up is not None:
                row.area_statuses = entries.get(row.reported_follow_up.pk, [])
        counts = points.get(municipality.pk)
        if counts:
            row.open_action_points, row.overdue_action_points = counts["open"], counts["overdue"]
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
