"""The county overview ("Länet"): every municipality's agreement in one plan
period, sortable and filterable, as a page and as a CSV file; the coverage of
the plan's priorities; and a municipal user's own row on their start page.

The rows come from cases.overview.selectors.county_overview; the open steps (viewflow
tasks: who must act, due dates) are read here, in the workflows layer, in one
query for the whole period, and passed in."""

import csv

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.permissions import sees_all_municipalities, visible_municipality_ids, who_can
from cases.agreements.selectors import default_plan_period, plan_periods
from cases.models import FollowUpEntry
from cases.overview import selectors as overview
from cases.overview.forms import CoverageFilterForm, OverviewFilterForm
from cases.overview.selectors import SORTS
from cases.overview.tilemap import tiles

from .. import selectors


def open_steps_for_period(user, plan_period) -> list[overview.OpenStep]:
    """The open steps of the period's agreements that the user may see (one query,
    plain values): what each is, who must act (the person who took it, else the
    roles that may) and when it is due."""
    tasks = (
        selectors.scoped_tasks(user)
        .filter(status__in=selectors.OPEN, **{f"{selectors.AGREEMENT}__plan_period": plan_period})
        .order_by()
        .values_list(
            f"{selectors.AGREEMENT}_id",
            f"{selectors.AGREEMENT}__municipality__name",
            "flow_task",
            "owner__full_name",
            "deadline__due_on",
            "escalated",
        )
    )
    found, who, titles = [], {}, {}
    for agreement_id, municipality, node, owner, due_on, escalated in tasks:
        if owner is None:
            key = (node.action, municipality)
            if key not in who:
                who[key] = who_can(node.action, overview.MunicipalityRef(0, municipality))
            owner = who[key]
        if node not in titles:
            titles[node] = str(node.task_title)
        found.append(
            overview.OpenStep(
                agreement_id=agreement_id, title=titles[node], who=owner, due_on=due_on, escalated=escalated
            )
        )
    return found


def overview_rows(user, *, plan_period, stage="", overdue_only=False, sort="municipality"):
    return overview.county_overview(
        user,
        plan_period=plan_period,
        open_steps=open_steps_for_period(user, plan_period),
        stage=stage,
        overdue_only=overdue_only,
        sort=sort,
    )


def own_overview(user):
    """A municipal user's own municipality in the current plan period (for the
    start page); None for region-wide users, who have the county overview."""
    ids = visible_municipality_ids(user)
    if not ids:  # None: sees every municipality; empty: sees none
        return None
    period = default_plan_period()
    if period is None:
        return None
    return {"period": period, "rows": overview_rows(user, plan_period=period), "several": len(ids) > 1}


def _filters(request):
    """The overview's filters from the query string: (form, period, stage, overdue, sort)."""
    periods = plan_periods()
    form = OverviewFilterForm(request.GET or None, periods=periods)
    cleaned = form.cleaned_data if form.is_bound and form.is_valid() else {}
    period = cleaned.get("plan_period") or default_plan_period(periods=periods)
    if not form.is_bound or not cleaned.get("plan_period"):
        form.initial["plan_period"] = period.pk if period else None
    sort = cleaned.get("sort") or "municipality"
    return form, period, cleaned.get("stage", ""), bool(cleaned.get("overdue")), sort


def _query(request, **changes):
    query = request.GET.copy()
    for key, value in changes.items():
        query[key] = value
    query.pop("page", None)
    return query.urlencode()


@login_required
def county(request):
    if visible_municipality_ids(request.user) == set():
        raise PermissionDenied
    form, period, stage, overdue, sort = _filters(request)
    rows = (
        overview_rows(request.user, plan_period=period, stage=stage, overdue_only=overdue, sort=sort) if period else []
    )
    return render(
        request,
        "workflows/overview/county.html",
        {
            "form": form,
            "period": period,
            "rows": rows,
            "tiles": tiles(rows),
            "sort": sort,
            "sort_links": {key: _query(request, sort=key) for key in SORTS},
            "csv_query": _query(request),
            "today": timezone.localdate(),
            "whole_county": sees_all_municipalities(request.user),
        },
        status=400 if form.is_bound and not form.is_valid() else 200,
    )


CSV_HEADERS = [
    gettext_lazy("Municipality"),
    gettext_lazy("Case number"),
    gettext_lazy("Stage"),
    gettext_lazy("Who must act"),
    gettext_lazy("Next due date"),
    gettext_lazy("Overdue steps"),
    gettext_lazy("Latest follow-up"),
    gettext_lazy("Status per area"),
    gettext_lazy("Open action points"),
    gettext_lazy("Overdue action points"),
]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value):
    """A CSV cell; text that a spreadsheet would run as a formula is quoted with an apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_row(row):
    follow_up = row.latest_follow_up
    return [
        _cell(value)
        for value in (
            row.municipality.name,
            row.agreement.case_number if row.agreement else "",
            row.stage_label,
            row.who,
            row.next_due.isoformat() if row.next_due else "",
            "; ".join(f"{s.title} ({s.due_on.isoformat()})" for s in row.overdue_steps),
            f"{follow_up.year}: {follow_up.get_status_display()}" if follow_up else "",
            "; ".join(f"{e.area.title}: {e.get_progress_display()}" for e in row.area_statuses),
            row.open_action_points,
            row.overdue_action_points,
        )
    ]


class _Echo:
    """A file-like object whose write() hands the line back, for streaming csv.writer output."""

    def write(self, value):
        return value


@login_required
def county_csv(request):
    """The same rows as the page, with the same filters and scope, as a CSV file:
    UTF-8 with a byte-order mark and semicolons between the columns, which is
    what Excel with Swedish settings opens without an import dialogue."""
    if visible_municipality_ids(request.user) == set():
        raise PermissionDenied
    form, period, stage, overdue, sort = _filters(request)
    if form.is_bound and not form.is_valid():
        return HttpResponse(
            _("The filters are not valid: %(errors)s") % {"errors": form.errors.as_text()},
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    rows = (
        overview_rows(request.user, plan_period=period, stage=stage, overdue_only=overdue, sort=sort) if period else []
    )
    writer = csv.writer(_Echo(), delimiter=";")

    def lines():
        yield "\ufeff" + writer.writerow([str(h) for h in CSV_HEADERS])
        for row in rows:
            yield writer.writerow(csv_row(row))

    name = f"lanet-{period.name if period else ''}".replace("–", "-").replace(" ", "")
    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


PROGRESS_LEGEND = FollowUpEntry.Progress.choices


@login_required
def coverage(request):
    """Which priorities of a plan period the municipalities have taken up: for
    those who see the whole county (coordinators, auditors)."""
    if not sees_all_municipalities(request.user):
        raise PermissionDenied
    periods = plan_periods()
    form = CoverageFilterForm(request.GET or None, periods=periods)
    cleaned = form.cleaned_data if form.is_bound and form.is_valid() else {}
    period = cleaned.get("plan_period") or default_plan_period(periods=periods)
    if not form.is_bound:
        form.initial["plan_period"] = period.pk if period else None
    result = overview.coverage(request.user, plan_period=period) if period else None
    trends = overview.follow_up_trends(request.user, plan_period=period) if period else []
    return render(
        request,
        "workflows/overview/coverage.html",
        {"form": form, "period": period, "coverage": result, "trends": trends, "progress": PROGRESS_LEGEND},
        status=400 if form.is_bound and not form.is_valid() else 200,
    )
