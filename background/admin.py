"""Webhooks in the administration: administrators register a URL and its
events (the signing secret is shown once, after saving), deactivate it, and
see every delivery with its status and response code. Nothing is deleted."""

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from accounts.admin import AdministratorsOnly
from accounts.permissions import can_administer

from . import webhooks
from .models import Webhook, WebhookDelivery


class WebhookForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        label=_("events"), choices=Webhook.Event.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Webhook
        fields = ["organisation", "name", "url", "events"]

    def clean(self):
        data = super().clean()
        for field, message in webhooks.webhook_errors(url=data.get("url"), events=data.get("events")).items():
            if field not in self.errors:
                self.add_error(field, message)
        return data


@admin.register(Webhook)
class WebhookAdmin(AdministratorsOnly, SimpleHistoryAdmin):
    list_display = ["name", "organisation", "url", "is_active", "created_at"]
    list_filter = ["is_active", "organisation"]
    actions = ["deactivate"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = WebhookForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["organisation", "name", "url", "events"]
        return ["organisation", "name", "url", "events", "is_active", "created_by", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj) if obj is not None else []

    def has_add_permission(self, request):
        return can_administer(request.user)

    def has_change_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:
            return
        webhook = webhooks.webhook_register(
            actor=request.user,
            organisation=form.cleaned_data["organisation"],
            name=form.cleaned_data["name"],
            url=form.cleaned_data["url"],
            events=form.cleaned_data["events"],
        )
        obj.pk = webhook.pk
        messages.warning(
            request,
            _("The signing secret, shown only now — give it to the receiving system: %(secret)s")
            % {"secret": webhook.secret},
        )

    @admin.action(description=_("Deactivate the chosen webhooks"))
    def deactivate(self, request, queryset):
        for webhook in queryset:
            webhooks.webhook_deactivate(actor=request.user, webhook=webhook)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(AdministratorsOnly, admin.ModelAdmin):
    list_display = ["id", "webhook", "event", "agreement", "status", "response_code", "attempts", "created_at"]
    list_filter = ["status", "event", "webhook"]
    list_select_related = ["webhook", "agreement"]
    readonly_fields = [
        "webhook",
        "event",
        "agreement",
        "body",
        "created_at",
        "status",
        "attempts",
        "next_attempt_at",
        "response_code",
        "last_error",
        "sent_at",
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
