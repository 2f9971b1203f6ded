"""The people pages: who holds which role in each organisation and when each
last signed in (coordinators, auditors and administrators read them); an
administrator invites, gives and ends roles and deactivates accounts; the
invited person's activation page. Each write is one service of
accounts.invitations."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Max, OuterRef, Prefetch, Subquery
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import invitations
from .models import Membership, Organisation, Role, SignInEvent, User
from .permissions import can_manage_people, can_read_plan_administration


class InviteForm(forms.Form):
    full_name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    email = forms.EmailField(label=gettext_lazy("E-mail address"))
    title = forms.CharField(label=gettext_lazy("Title"), max_length=200, required=False)
    organisation = forms.ModelChoiceField(
        label=gettext_lazy("Organisation"),
        queryset=Organisation.objects.filter(
            is_active=True, kind__in=[Organisation.Kind.REGION, Organisation.Kind.MUNICIPALITY]
        ),
    )
    role = forms.ChoiceField(label=gettext_lazy("Role"), choices=Role.choices)


class MembershipForm(forms.Form):
    organisation = forms.ModelChoiceField(
        label=gettext_lazy("Organisation"),
        queryset=Organisation.objects.filter(
            is_active=True, kind__in=[Organisation.Kind.REGION, Organisation.Kind.MUNICIPALITY]
        ),
    )
    role = forms.ChoiceField(label=gettext_lazy("Role"), choices=Role.choices)


class ReasonForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=500)


def _last_sign_in():
    return Subquery(
        SignInEvent.objects.filter(user=OuterRef("pk"), kind=SignInEvent.Kind.LOGIN)
        .order_by()
        .values("user")
        .annotate(last=Max("at"))
        .values("last")[:1]
    )


def _require_read(user):
    if not can_read_plan_administration(user):
        raise PermissionDenied


def _apply(form, error):
    from cases.forms import apply_errors

    apply_errors(form, error)


@login_required
def people(request):
    """Every organisation with who holds which role there, and their last sign-in."""
    _require_read(request.user)
    can_manage = can_manage_people(request.user)
    if request.method == "POST" and not can_manage:
        raise PermissionDenied
    form = InviteForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                person = invitations.person_invite(actor=request.user, **form.cleaned_data)
            except ValidationError as error:
                _apply(form, error)
            else:
                messages.success(
                    request,
                    _("%(name)s is invited: an activation link is on its way to %(email)s.")
                    % {"name": person.full_name, "email": person.email},
                )
                return redirect("accounts:person", pk=person.pk)
    members = Membership.objects.active().select_related("user").annotate(last_sign_in=_last_sign_in_for_membership())
    organisations = Organisation.objects.prefetch_related(
        Prefetch("memberships", queryset=members.order_by("role", "user__full_name"), to_attr="active_members")
    ).order_by("kind", "name")
    return render(
        request,
        "accounts/people.html",
        {"organisations": organisations, "form": form, "can_manage": can_manage},
        status=status,
    )


def _last_sign_in_for_membership():
    return Subquery(
        SignInEvent.objects.filter(user=OuterRef("user"), kind=SignInEvent.Kind.LOGIN)
        .order_by()
        .values("user")
        .annotate(last=Max("at"))
        .values("last")[:1]
    )


@login_required
def person(request, pk):
    _require_read(request.user)
    can_manage = can_manage_people(request.user)
    if request.method == "POST" and not can_manage:
        raise PermissionDenied
    person = get_object_or_404(User.objects.annotate(last_sign_in=_last_sign_in()), pk=pk)
    give_form = MembershipForm(request.POST if "give" in request.POST else None)
    reason_form = ReasonForm(request.POST if "end" in request.POST or "deactivate" in request.POST else None)
    status = 200
    if request.method == "POST":
        status = 400
        try:
            if "give" in request.POST and give_form.is_valid():
                invitations.membership_give(actor=request.user, user=person, **give_form.cleaned_data)
                messages.success(request, _("Role given."))
                return redirect("accounts:person", pk=person.pk)
            if "end" in request.POST and reason_form.is_valid():
                membership = get_object_or_404(Membership, pk=request.POST.get("membership") or 0, user=person)
                invitations.membership_close(
                    actor=request.user, membership=membership, reason=reason_form.cleaned_data["reason"]
                )
                messages.success(request, _("Role ended."))
                return redirect("accounts:person", pk=person.pk)
            if "deactivate" in request.POST and reason_form.is_valid():
                invitations.person_deactivate(
                    actor=request.user, user=person, reason=reason_form.cleaned_data["reason"]
                )
                messages.success(request, _("The account is deactivated."))
                return redirect("accounts:person", pk=person.pk)
        except ValidationError as error:
            _apply(give_form if "give" in request.POST else reason_form, error)
    history = person.history.select_related("history_user").order_by("-history_id")[:50]
    membership_history = (
        Membership.history.filter(user_id=person.pk)
        .select_related("history_user", "organisation")
        .order_by("-history_id")[:50]
    )
    return render(
        request,
        "accounts/person.html",
        {
            "person": person,
            "memberships": person.memberships.select_related("organisation").order_by(
                "-is_active", "organisation__name"
            ),
            "give_form": give_form,
            "reason_form": reason_form,
            "can_manage": can_manage,
            "history": history,
            "membership_history": membership_history,
        },
        status=status,
    )


def invitation(request, token):
    """The activation link from the invitation: choose a password (once)."""
    found = invitations.invitation_find(token)
    if found is None:
        return render(request, "accounts/invitation.html", {"usable": False}, status=404)
    form = SetPasswordForm(found.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitations.invitation_accept(token=found, password=form.cleaned_data["new_password1"])
        except ValidationError as error:
            form.add_error(None, error.messages)
        else:
            messages.success(request, _("Your password is set. Sign in with your e-mail address and the new password."))
            return redirect("login")
    from .providers import providers_by_organisation

    by_organisation = providers_by_organisation()
    providers = [p for m in found.user.memberships.all() for p in by_organisation.get(m.organisation_id, ())]
    return render(
        request,
        "accounts/invitation.html",
        {"usable": True, "form": form, "person": found.user, "providers": providers, "expires_at": found.expires_at},
        status=400 if request.method == "POST" else 200,
    )


class OrganisationForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    deciding_body = forms.CharField(
        label=gettext_lazy("Default deciding body"),
        max_length=200,
        required=False,
        help_text=gettext_lazy("Offered when the organisation's decision is recorded, e.g. Kommunstyrelsen."),
    )
    is_active = forms.BooleanField(label=gettext_lazy("Active"), required=False)
    partner_type = forms.ChoiceField(
        label=gettext_lazy("Kind of partner"), choices=Organisation.PartnerType.choices, required=False
    )


class PartnerForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    partner_type = forms.ChoiceField(label=gettext_lazy("Kind of partner"), choices=Organisation.PartnerType.choices)


@login_required
def organisations(request):
    """The region, the municipalities with their default deciding bodies, and the
    partners in the dialogue; administrators add partners here."""
    from .services import partner_create

    _require_read(request.user)
    can_manage = can_manage_people(request.user)
    if request.method == "POST" and not can_manage:
        raise PermissionDenied
    form = PartnerForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                partner = partner_create(actor=request.user, **form.cleaned_data)
            except ValidationError as error:
                _apply(form, error)
            else:
                messages.success(request, _("%(name)s added as a partner in the dialogue.") % {"name": partner.name})
                return redirect("accounts:organisations")
    return render(
        request,
        "accounts/organisations.html",
        {"organisations": Organisation.objects.order_by("kind", "name"), "form": form, "can_manage": can_manage},
        status=status,
    )


@login_required
def organisation(request, pk):
    from .services import organisation_change

    _require_read(request.user)
    can_manage = can_manage_people(request.user)
    if request.method == "POST" and not can_manage:
        raise PermissionDenied
    found = get_object_or_404(Organisation, pk=pk)
    form = OrganisationForm(
        request.POST or None,
        initial={
            "name": found.name,
            "deciding_body": found.deciding_body,
            "is_active": found.is_active,
            "partner_type": found.partner_type,
        },
    )
    if not found.is_partner:
        del form.fields["partner_type"]
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                organisation_change(actor=request.user, organisation=found, **form.cleaned_data)
            except ValidationError as error:
                _apply(form, error)
            else:
                messages.success(request, _("%(name)s saved.") % {"name": form.cleaned_data["name"]})
                return redirect("accounts:organisations")
    return render(
        request,
        "accounts/organisation.html",
        {"organisation": found, "form": form, "can_manage": can_manage},
        status=status,
    )
