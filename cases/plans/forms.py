"""Forms of the plan administration. Each edit form carries the version it was
read at (see cases.plans.services.version_of)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from ..agreements.models import PlanPeriod, PlanPriority
from ..forms import DateInput


class PeriodForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=50, help_text=_("E.g. 2027–2030."))
    starts_on = forms.DateField(label=_("Starts on"), widget=DateInput())
    ends_on = forms.DateField(label=_("Ends on"), widget=DateInput())
    is_active = forms.BooleanField(
        label=_("Open for new agreements"),
        required=False,
        help_text=_("Closed periods keep their agreements, read-only."),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    @classmethod
    def initial_for(cls, period, version):
        return {
            "name": period.name,
            "starts_on": period.starts_on,
            "ends_on": period.ends_on,
            "is_active": period.is_active,
            "version": version,
        }


class PriorityForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=300)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    position = forms.IntegerField(
        label=_("Order"), min_value=0, max_value=10000, required=False, help_text=_("Lower numbers come first.")
    )
    successor = forms.ModelChoiceField(
        label=_("Successor in a later plan period"),
        queryset=PlanPriority.objects.none(),
        required=False,
        help_text=_("When an agreement is renewed, its areas linked to this priority are linked to the successor."),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, plan_period: PlanPeriod, with_successor=True, **kwargs):
        super().__init__(*args, **kwargs)
        if with_successor:
            self.fields["successor"].queryset = (
                PlanPriority.objects.filter(plan_period__starts_on__gt=plan_period.starts_on, retired_at=None)
                .select_related("plan_period")
                .order_by("plan_period__starts_on", "position", "code")
            )
            self.fields["successor"].label_from_instance = lambda p: f"{p.plan_period.name}: {p.title}"
        else:
            del self.fields["successor"]

    @classmethod
    def initial_for(cls, priority, version):
        return {
            "title": priority.title,
            "description": priority.description,
            "position": priority.position,
            "successor": priority.successor_id,
            "version": version,
        }
