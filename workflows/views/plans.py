"""The plan administration: plan periods and their priorities, run by the
region's coordinators in the application. Auditors and administrators read
the pages; municipal users may not reach them. Each view calls one service of
cases.plans.services; an edit made from an outdated page gets 409 with the
user's own text kept in the form and the saved version beside it."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Prefetch
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from accounts.permissions import can_manage_plan, can_read_plan_administration
from cases.agreements.selectors import plan_periods_with_counts
from cases.forms import apply_errors
from cases.models import PlanPeriod, PlanPriority
from cases.plans import services
from cases.plans.forms import PeriodForm, PriorityForm


def _require_read(user):
    if not can_read_plan_administration(user):
        raise PermissionDenied


def _require_manage(request):
    _require_read(request.user)
    if request.method == "POST" and not can_manage_plan(request.user):
        raise PermissionDenied


@login_required
def period_list(request):
    _require_read(request.user)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    periods = plan_periods_with_counts()
    return render(
        request, "workflows/plans/period_list.html", {"periods": periods, "can_manage": can_manage_plan(request.user)}
    )


@login_required
def period_new(request):
    _require_manage(request)
    form = PeriodForm(request.POST or None, initial={"is_active": True})
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "version"}
        try:
            period = services.period_create(actor=request.user, **data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, _("Plan period %(period)s created.") % {"period": period})
            return redirect("workflows:plan_period", pk=period.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "workflows/plans/period_form.html",
        {"form": form, "period": None, "can_manage": can_manage_plan(request.user)},
        status=status,
    )


@login_required
def period_detail(request, pk):
    _require_manage(request)
    period = get_object_or_404(PlanPeriod, pk=pk)
    can_manage = can_manage_plan(request.user)
    form = PeriodForm(request.POST or None, initial=PeriodForm.initial_for(period, services.version_of(period)))
    conflict = None
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = dict(form.cleaned_data)
            try:
                services.period_update(actor=request.user, period=period, seen_version=data.pop("version"), **data)
            except services.EditConflict as error:
                conflict, status = error, 409
                period.refresh_from_db()
            except ValidationError as error:
                apply_errors(form, error)
            else:
                messages.success(request, _("Plan period %(period)s saved.") % {"period": data["name"]})
                return redirect("workflows:plan_period", pk=period.pk)
    if conflict is not None:
        # Keep what the user wrote; the next save is checked against what is saved now.
        data = form.data.copy()
        data["version"] = services.version_of(period)
        form = PeriodForm(data)
        form.is_valid()
    priorities = period.priorities.select_related("successor__plan_period").annotate(
        area_count=Count("areas", distinct=True)
    )
    return render(
        request,
        "workflows/plans/period_form.html",
        {
            "form": form,
            "period": period,
            "priorities": priorities,
            "priority_form": PriorityForm(plan_period=period, with_successor=False),
            "conflict": conflict,
            "can_manage": can_manage,
            "first_used": services.dates_in_use(period),
        },
        status=status,
    )


@login_required
def priority_new(request, pk):
    _require_manage(request)
    if request.method != "POST":
        return redirect("workflows:plan_period", pk=pk)
    period = get_object_or_404(PlanPeriod, pk=pk)
    form = PriorityForm(request.POST, plan_period=period, with_successor=False)
    if form.is_valid():
        try:
            priority = services.priority_create(
                actor=request.user,
                plan_period=period,
                title=form.cleaned_data["title"],
                description=form.cleaned_data["description"],
                position=form.cleaned_data["position"],
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, _("Priority “%(title)s” added.") % {"title": priority.title})
            return redirect("workflows:plan_period", pk=period.pk)
    return render(
        request,
        "workflows/plans/priority_form.html",
        {"form": form, "period": period, "priority": None, "can_manage": True},
        status=400,
    )


@login_required
def priority_detail(request, pk):
    _require_manage(request)
    priority = get_object_or_404(
        PlanPriority.objects.select_related("plan_period", "successor__plan_period").prefetch_related(
            Prefetch("predecessors", queryset=PlanPriority.objects.select_related("plan_period"))
        ),
        pk=pk,
    )
    period = priority.plan_period
    version = services.version_of(priority)
    form = PriorityForm(request.POST or None, plan_period=period, initial=PriorityForm.initial_for(priority, version))
    conflict, status = None, 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                if "retire" in request.POST or "reinstate" in request.POST:
                    services.priority_retire(
                        actor=request.user,
                        priority=priority,
                        seen_version=data["version"],
                        retire="retire" in request.POST,
                    )
                else:
                    services.priority_update(
                        actor=request.user,
                        priority=priority,
                        seen_version=data["version"],
                        title=data["title"],
                        description=data["description"],
                        position=data["position"] if data["position"] is not None else priority.position,
                        successor=data["successor"],
                    )
            except services.EditConflict as error:
                conflict, status = error, 409
                priority.refresh_from_db()
            except ValidationError as error:
                apply_errors(form, error)
            else:
                messages.success(request, _("Priority “%(title)s” saved.") % {"title": data["title"]})
                return redirect("workflows:plan_period", pk=period.pk)
    if conflict is not None:
        data = form.data.copy()
        data["version"] = services.version_of(priority)
        form = PriorityForm(data, plan_period=period)
        form.is_valid()
    return render(
        request,
        "workflows/plans/priority_form.html",
        {
            "form": form,
            "period": period,
            "priority": priority,
            "conflict": conflict,
            "can_manage": can_manage_plan(request.user),
        },
        status=status,
    )
