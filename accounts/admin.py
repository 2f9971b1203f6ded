from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import UserCreationForm
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from . import audit_reasons as reasons
from . import services
from .models import Membership, Organisation, User


class NoDeleteMixin:
    """Nothing is deleted: users are deactivated, memberships ended."""

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["organisation", "role", "is_active", "created_at"]
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
    readonly_fields = ["last_login", "date_joined", "is_staff", "is_superuser"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Person"), {"fields": ("full_name", "title")}),
        (_("Status"), {"fields": ("is_active", "is_staff", "is_superuser", "last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "full_name", "title", "password1", "password2")}),
    )
    inlines = [MembershipInline]

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
    list_display = ["user", "organisation", "role", "is_active", "created_at"]
    list_filter = ["role", "is_active", "organisation"]
    search_fields = ["user__email", "user__full_name", "organisation__name"]
    autocomplete_fields = ["user", "organisation"]

    def get_readonly_fields(self, request, obj=None):
        # A role is changed by ending the membership and creating a new one,
        # so that the history says when each role began and ended.
        return ["user", "organisation", "role", "created_at"] if obj else ["created_at"]

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
