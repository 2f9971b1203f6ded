from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import UserCreationForm
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from . import audit_reasons as reasons
from . import enrolment, services, two_factor
from .forms import ResetReasonForm
from .models import MappingProblem, Membership, Organisation, User


class NoDeleteMixin:
    """Nothing is deleted: users are deactivated, memberships ended."""

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


class AdministratorsOnly(NoDeleteMixin):
    """Pages of the Django admin only administrators see (integration tokens,
    webhooks and their deliveries); nothing on them is deleted."""

    def has_module_permission(self, request):
        from .permissions import can_administer

        return can_administer(request.user)

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["organisation", "role", "is_active", "source", "source_provider", "created_at"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


class SamverkanUserCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("email", "full_name", "title")


@admin.register(User)
class UserAdmin(NoDeleteMixin, SimpleHistoryAdmin, BaseUserAdmin):
    add_form = SamverkanUserCreationForm
    ordering = ["full_name"]
    list_display = ["email", "full_name", "title", "is_active"]
    list_filter = ["is_active", "memberships__role", "memberships__organisation"]
    search_fields = ["email", "full_name"]
    readonly_fields = ["last_login", "date_joined", "is_staff", "is_superuser", "two_factor_link"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Person"), {"fields": ("full_name", "title")}),
        (_("Status"), {"fields": ("is_active", "is_staff", "is_superuser", "last_login", "date_joined")}),
        (_("Sign-in"), {"fields": ("password_sign_in_allowed", "two_factor_link")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "full_name", "title", "password1", "password2")}),
    )
    inlines = [MembershipInline]

    @admin.display(description=_("Two-step verification"))
    def two_factor_link(self, obj):
        if obj is None or obj.pk is None:
            return "–"
        state = gettext("On") if two_factor.has_device(obj) else gettext("Off")
        url = reverse("admin:accounts_user_two_factor", args=[obj.pk])
        return format_html('{} – <a href="{}">{}</a>', state, url, gettext("Reset, or hand out an enrolment code"))

    def get_urls(self):
        own = [
            path(
                "<int:object_id>/tvastegsverifiering/",
                self.admin_site.admin_view(self.two_factor_view),
                name="accounts_user_two_factor",
            )
        ]
        return own + super().get_urls()

    def two_factor_view(self, request, object_id):
        """An administrator's page for one user's two-step verification:
        reset it (with a reason), or hand out a one-time enrolment code."""
        user = get_object_or_404(User, pk=object_id)
        if not self.has_change_permission(request, user):
            raise PermissionDenied
        form = ResetReasonForm(request.POST or None)
        code = None
        status = 200
        if request.method == "POST":
            if form.is_valid():
                reason = form.cleaned_data["reason"]
                if request.POST.get("action") == "reset":
                    enrolment.two_factor_reset(actor=request.user, user=user, reason=reason)
                    messages.success(
                        request,
                        gettext("Two-step verification of %(user)s is reset; they have been told by e-mail.")
                        % {"user": user},
                    )
                    return redirect("admin:accounts_user_two_factor", user.pk)
                code = enrolment.code_create(actor=request.user, user=user, reason=reason)
            else:
                status = 400
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Two-step verification: %(user)s") % {"user": user},
            "subject": user,
            "opts": self.model._meta,
            "form": form,
            "code": code,
            "code_hours": enrolment.code_hours(),
            "has_device": two_factor.has_device(user),
            "recovery_codes_left": enrolment.recovery_codes_left(user),
        }
        return TemplateResponse(request, "admin/accounts/user/two_factor.html", context, status=status)

    def save_model(self, request, obj, form, change):
        if change:
            services.user_update(actor=request.user, user=obj)
        else:
            password = form.cleaned_data.get("password1")
            created = services.user_create(
                actor=request.user, email=obj.email, full_name=obj.full_name, title=obj.title, password=password
            )
            obj.pk = created.pk


class MembershipAdminForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["user", "organisation", "role", "is_active"]


@admin.register(Membership)
class MembershipAdmin(NoDeleteMixin, SimpleHistoryAdmin):
    form = MembershipAdminForm
    list_display = ["user", "organisation", "role", "is_active", "source", "created_at"]
    list_filter = ["role", "is_active", "source", "organisation"]
    search_fields = ["user__email", "user__full_name", "organisation__name"]
    autocomplete_fields = ["user", "organisation"]

    def get_readonly_fields(self, request, obj=None):
        # A role is changed by ending the membership and creating a new one,
        # so that the history says when each role began and ended.
        return ["user", "organisation", "role", "source", "source_provider", "created_at"] if obj else ["created_at"]

    def save_model(self, request, obj, form, change):
        reason = reasons.MEMBERSHIP_CHANGED_IN_ADMINISTRATION
        if not change:
            created = services.membership_create(
                actor=request.user, user=obj.user, organisation=obj.organisation, role=obj.role, reason=reason
            )
            obj.pk = created.pk
        elif "is_active" in form.changed_data:
            if obj.is_active:
                services.membership_reactivate(actor=request.user, membership=obj, reason=reason)
            else:
                services.membership_end(actor=request.user, membership=obj, reason=reason)


@admin.register(Organisation)
class OrganisationAdmin(NoDeleteMixin, SimpleHistoryAdmin):
    list_display = ["name", "kind", "kommunkod", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "kommunkod"]

    def save_model(self, request, obj, form, change):
        services.organisation_update(actor=request.user, organisation=obj)


@admin.register(MappingProblem)
class MappingProblemAdmin(admin.ModelAdmin):
    """What the identity providers' claims could not be turned into: read only."""

    list_display = ["at", "provider", "user", "rule", "message"]
    list_filter = ["provider"]
    search_fields = ["rule", "message", "user__email"]
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        from . import permissions

        return permissions.can_administer(request.user) or request.user.is_superuser
