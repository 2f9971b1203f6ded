"""Forms of the dialogue meetings. Field-level checks live here; the rules (an
action point only for a participating municipality, an area of that
municipality's agreement, a due date not before the meeting) are checked by
cases.meetings.services, whose errors are shown next to the field they concern."""

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts.models import Organisation

from .. import limits
from ..forms import DateInput, UploadField, apply_errors
from ..swedish import swedish_key
from ..widgets import FastSelect
from .models import ActionPoint
from .services import ActionPointInput


def municipality_queryset():
    return Organisation.objects.filter(kind=Organisation.Kind.MUNICIPALITY, is_active=True).order_by("name")


class MunicipalityCheckboxes(forms.ModelMultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def label_from_instance(self, obj):
        return obj.name


class MunicipalityChoice(forms.ModelChoiceField):
    widget = FastSelect

    def label_from_instance(self, obj):
        return obj.name


class MeetingForm(forms.Form):
    held_on = forms.DateField(label=_("Date of the meeting"), widget=DateInput())
    place = forms.CharField(label=_("Place"), max_length=200, help_text=_("E.g. Dalarnas museum, Falun, or Teams."))
    participants = MunicipalityCheckboxes(
        label=_("Participating municipalities"),
        queryset=Organisation.objects.none(),
        error_messages={"required": _("Choose at least one participating municipality.")},
    )
    partners = MunicipalityCheckboxes(
        label=_("Participating partners"),
        queryset=Organisation.objects.none(),
        required=False,
        help_text=_("County cultural institutions and folk high schools; they never sign agreements."),
    )
    minutes = forms.CharField(
        label=_("Minutes"),
        required=False,
        max_length=limits.MINUTES_MAX,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("What was discussed and agreed. You can attach the minutes as a file as well, or instead."),
    )
    minutes_file = UploadField(label=_("Minutes as a file (optional)"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["participants"].queryset = municipality_queryset()
        self.fields["partners"].queryset = Organisation.objects.filter(
            kind=Organisation.Kind.PARTNER, is_active=True
        ).order_by("name")


def area_choices(areas):
    """Select choices for collaboration areas, grouped by municipality and agreement."""
    groups = {}
    for area in areas:
        agreement = area.agreement
        label = f"{agreement.municipality.name} – {agreement.case_number} ({agreement.plan_period.name})"
        groups.setdefault(label, (swedish_key(agreement.municipality.name), []))[1].append((str(area.pk), area.title))
    ordered = sorted(groups.items(), key=lambda item: (item[1][0], item[0]))
    return [("", _("No particular area"))] + [(label, options) for label, (_key, options) in ordered]


class ActionPointForm(forms.Form):
    municipality = MunicipalityChoice(
        label=_("Municipality"), queryset=Organisation.objects.none(), help_text=_("One of the participants.")
    )
    area = forms.ChoiceField(
        label=_("Collaboration area (optional)"),
        required=False,
        help_text=_("An area of that municipality's agreement, when the action point concerns one."),
    )
    description = forms.CharField(
        label=_("What is to be done"), max_length=limits.ACTION_POINT_MAX, widget=forms.Textarea(attrs={"rows": 2})
    )
    owner_name = forms.CharField(label=_("Owner"), max_length=200, help_text=_("Who sees to it: name and role."))
    due_on = forms.DateField(label=_("Due date"), widget=DateInput())

    def __init__(self, *args, areas=(), municipalities=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.areas = {str(area.pk): area for area in areas}
        self.fields["area"].choices = area_choices(areas)
        self.fields["municipality"].queryset = municipalities if municipalities is not None else municipality_queryset()

    def clean_area(self):
        value = self.cleaned_data.get("area")
        if not value:
            return None
        if value not in self.areas:
            raise ValidationError(_("Choose one of the listed areas."))
        return self.areas[value]

    def to_input(self) -> ActionPointInput:
        """The row as the service reads it; a field that did not parse is None."""
        data = self.cleaned_data
        return ActionPointInput(
            municipality=data.get("municipality"),
            area=data.get("area"),
            description=data.get("description", ""),
            owner_name=data.get("owner_name", ""),
            due_on=data.get("due_on"),
        )


class BaseActionPointFormSet(forms.BaseFormSet):
    """Action points written with the meeting. The areas are read once for every row."""

    def __init__(self, *args, areas=(), **kwargs):
        self.areas = list(areas)
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "areas": self.areas}

    def filled_forms(self):
        """(index, form) of the rows with something written in them."""
        return [(i, f) for i, f in enumerate(self.forms) if f.has_changed() and f.cleaned_data]


ActionPointFormSet = forms.formset_factory(
    ActionPointForm, formset=BaseActionPointFormSet, extra=3, max_num=30, validate_max=True
)
ACTION_POINT_PREFIX = "action_points"
ROW_ERROR = re.compile(rf"^{ACTION_POINT_PREFIX}-(\d+)-(\w+)$")


def apply_meeting_errors(form, formset, error: ValidationError, rows, *, only_new=False):
    """Put a ValidationError of cases.meetings.services on the form and the
    formset: ``action_points-<n>-<field>`` goes to the n-th filled row (``rows``
    maps n to the formset's form), anything else to the meeting form. With
    ``only_new``, a field that already has an error (it did not parse) keeps
    its own message only."""
    if not hasattr(error, "error_dict"):
        apply_errors(form, error)
        return

    def add(target, name, messages):
        field = name if name in target.fields else None
        if only_new and field is not None and field in target.errors:
            return
        target.add_error(field, messages)

    for key, messages in error.message_dict.items():
        match = ROW_ERROR.match(key)
        if match and int(match.group(1)) < len(rows):
            add(rows[int(match.group(1))], match.group(2), messages)
        else:
            add(form, key, messages)


class ActionPointStatusForm(forms.Form):
    status = forms.ChoiceField(label=_("New status"), choices=ActionPoint.Status.choices, widget=forms.RadioSelect)
    reason = forms.CharField(
        label=_("Reason"),
        max_length=limits.SHORT_REASON_MAX,
        help_text=_("E.g. what was done, or why it is open again."),
    )
