"""Integration tokens in the administration: administrators create them (the
token is shown once, on the page after saving) and revoke them; nothing is
edited or deleted, and each token's history is kept."""

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from simple_history.admin import SimpleHistoryAdmin

from accounts.admin import AdministratorsOnly
from accounts.permissions import can_administer

from . import services
from .models import TOKEN_ROLES, IntegrationToken


class TokenCreationForm(forms.ModelForm):
    role = forms.ChoiceField(label=_("role"), choices=[(role.value, role.label) for role in TOKEN_ROLES])

    class Meta:
        model = IntegrationToken
        fields = ["name", "organisation", "role", "expires_at"]

    def clean(self):
        data = super().clean()
        for field, message in services.token_errors(
            organisation=data.get("organisation"),
            role=data.get("role"),
            expires_at=data.get("expires_at"),
            name=data.get("name", ""),
        ).items():
            if field not in self.errors:
                self.add_error(field, message)
        return data


@admin.register(IntegrationToken)
class IntegrationTokenAdmin(AdministratorsOnly, SimpleHistoryAdmin):
    list_display = ["name", "prefix", "organisation", "role", "expires_at", "last_used", "revoked_at"]
    list_filter = ["role", "organisation"]
    readonly_fields = [
        "name",
        "prefix",
        "organisation",
        "role",
        "expires_at",
        "created_by",
        "created_at",
        "last_used",
        "revoked_at",
        "revoked_by",
    ]
    actions = ["revoke"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("organisation", "use")

    @admin.display(description=_("last used"))
    def last_used(self, token):
        use = getattr(token, "use", None) if hasattr(token, "use") else None
        return use.last_used_at if use else None

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = TokenCreationForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else ["name", "organisation", "role", "expires_at"]

    def save_model(self, request, obj, form, change):
        if change:
            return
        created = services.token_create(
            actor=request.user,
            organisation=form.cleaned_data["organisation"],
            role=form.cleaned_data["role"],
            name=form.cleaned_data["name"],
            expires_at=form.cleaned_data["expires_at"],
        )
        obj.pk = created.token.pk
        messages.warning(
            request,
            _("The token, shown only now — copy it into the other system: %(key)s") % {"key": created.key},
        )

    @admin.action(description=_("Revoke the chosen tokens"))
    def revoke(self, request, queryset):
        for token in queryset:
            services.token_revoke(actor=request.user, token=token)
        count = queryset.count()
        self.message_user(
            request, ngettext("%(count)d token revoked.", "%(count)d tokens revoked.", count) % {"count": count}
        )

    def has_add_permission(self, request):
        return can_administer(request.user)

    def has_change_permission(self, request, obj=None):
        return False
