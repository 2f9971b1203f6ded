"""Forms of the county overview and the coverage page: the filters, with the
plan period chosen from a list the view has read."""

from django import forms
from django.utils.translation import gettext_lazy as _

from ..agreements.models import Stage
from ..widgets import FastSelect
from .selectors import NO_AGREEMENT, SORTS


class PlanPeriodField(forms.ChoiceField):
    """A plan period chosen from a list the view has read (no query of its own)."""

    widget = FastSelect

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.periods = {}

    def set_periods(self, periods):
        self.periods = {str(p.pk): p for p in periods}
        self.choices = [(str(p.pk), p.name) for p in periods]

    def clean(self, value):
        value = super().clean(value)
        return self.periods.get(value) if value else None


class OverviewFilterForm(forms.Form):
    """The overview's filters; ``periods`` is the list of plan periods, newest first."""

    plan_period = PlanPeriodField(label=_("Plan period"), required=False)
    stage = forms.ChoiceField(
        label=_("Stage"),
        required=False,
        choices=[("", _("All stages")), (NO_AGREEMENT, _("No agreement"))] + list(Stage.choices),
        widget=FastSelect,
    )
    overdue = forms.BooleanField(label=_("Only overdue"), required=False)
    sort = forms.ChoiceField(choices=[(s, s) for s in SORTS], required=False, widget=forms.HiddenInput)

    def __init__(self, *args, periods=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan_period"].set_periods(periods)


class CoverageFilterForm(forms.Form):
    plan_period = PlanPeriodField(label=_("Plan period"), required=False)

    def __init__(self, *args, periods=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan_period"].set_periods(periods)
