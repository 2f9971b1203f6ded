"""Agreements across plan periods: renewing one, offering every municipality
the next period's agreement, and comparing versions (review rounds, the
current draft, the agreement a renewal started from)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from accounts.permissions import Action, can_act_for, can_do_anywhere
from cases.agreements import compare as comparison
from cases.agreements import selectors as case_selectors
from cases.agreements.forms import CompareForm, OfferAllForm, RenewForm
from cases.agreements.services import RENEWABLE_STAGES
from cases.forms import apply_errors

from .. import services


@login_required
def agreement_renew(request, pk):
    agreement = case_selectors.agreement_for(request.user, pk)
    if not can_act_for(request.user, agreement.municipality, Action.DRAFT):
        raise PermissionDenied
    form = RenewForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            successor = services.agreement_renew(
                actor=request.user,
                agreement=agreement,
                plan_period=form.cleaned_data["plan_period"],
                title=form.cleaned_data["title"] or None,
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(
                request,
                _("Agreement %(case)s opened for %(period)s with the areas of %(old)s.")
                % {"case": successor.case_number, "period": successor.plan_period, "old": agreement.case_number},
            )
            return redirect("workflows:agreement", pk=successor.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "workflows/agreement_renew.html",
        {"agreement": agreement, "form": form, "renewable": agreement.stage in RENEWABLE_STAGES},
        status=status,
    )


@login_required
def offer_all(request):
    if not can_do_anywhere(request.user, Action.DRAFT):
        raise PermissionDenied
    form = OfferAllForm(request.POST or None)
    report = None
    if request.method == "POST" and form.is_valid():
        try:
            report = services.offer_all(actor=request.user, plan_period=form.cleaned_data["plan_period"])
        except ValidationError as error:
            apply_errors(form, error)
    status = 400 if request.method == "POST" and report is None else 200
    return render(request, "workflows/offer_all.html", {"form": form, "report": report}, status=status)


@login_required
def agreement_compare(request, pk):
    agreement = case_selectors.agreement_for(request.user, pk)
    form = CompareForm(request.GET or None, agreement=agreement)
    areas = None
    if request.GET and form.is_valid():
        left, right = form.cleaned_data["left"], form.cleaned_data["right"]
        areas = comparison.compare(_content(agreement, left, right), _content(agreement, right, left))
    status = 400 if request.GET and areas is None else 200
    return render(
        request,
        "workflows/agreement_compare.html",
        {"agreement": agreement, "form": form, "areas": areas},
        status=status,
    )


def _content(agreement, version, other):
    """Revision content for one side; a renewal is matched by origin on both sides."""
    with_predecessor = "predecessor" in (version, other)
    if version == "predecessor":
        return comparison.snapshot(agreement.predecessor)
    if version == "draft":
        return comparison.snapshot(agreement, key_by_origin=with_predecessor)
    return version.content
