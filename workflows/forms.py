"""Forms of the process: a step's due date."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cases.forms import DateInput


class DueDateForm(forms.Form):
    due_on = forms.DateField(
        label=_("New due date"),
        widget=DateInput(),
        help_text=_("A due date is a working day: a weekend day or a public holiday becomes the next working day."),
    )
    reason = forms.CharField(label=_("Reason"), max_length=1000)

    def clean_due_on(self):
        due_on = self.cleaned_data["due_on"]
        if due_on < timezone.localdate():
            raise ValidationError(_("The due date cannot be in the past."))
        return due_on


class _Person(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.full_name} ({obj.email})"


class HandOverForm(forms.Form):
    """Release a taken step (nobody named) or hand it to a named person who may take it."""

    to = _Person(
        label=_("Hand to"),
        queryset=None,
        required=False,
        empty_label=_("Nobody: release the step, anyone who may can take it"),
        error_messages={"invalid_choice": _("Choose someone who may take this step.")},
    )
    reason = forms.CharField(label=_("Reason"), max_length=1000, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, candidates, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to"].queryset = candidates
