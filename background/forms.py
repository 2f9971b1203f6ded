from django import forms
from django.utils.translation import gettext_lazy as _

from .models import MailPreference, OutgoingEmail


class MailPreferenceForm(forms.Form):
    delivery = forms.ChoiceField(
        label=_("E-mail about my work"),
        choices=MailPreference.Delivery.choices,
        widget=forms.RadioSelect,
        help_text=_(
            "Notices that a step has reached you, reminders and escalations. The daily digest comes once a day "
            "on the morning of each working day."
        ),
        error_messages={"required": _("Choose one of the options."), "invalid_choice": _("Choose one of the options.")},
    )


class OutboxFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("Failed or being retried"))] + list(OutgoingEmail.Status.choices),
        error_messages={"invalid_choice": _("Choose a status from the list.")},
    )
