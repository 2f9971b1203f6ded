"""Forms of the yearly follow-up: the municipality's report per area and the
coordinator's verdict."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .. import limits
from ..forms import UploadField
from .models import FollowUpEntry
from .services import EntryInput


class FollowUpReportForm(forms.Form):
    """One status and narrative per collaboration area, and optional attachments."""

    file = UploadField(label=_("Attach a document (optional)"), required=False)

    def __init__(self, *args, entries=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.entries = list(entries)
        for entry in self.entries:
            self.fields[f"progress_{entry.area_id}"] = forms.ChoiceField(
                label=_("Status"),
                choices=FollowUpEntry.Progress.choices,
                initial=entry.progress,
            )
            self.fields[f"narrative_{entry.area_id}"] = forms.CharField(
                label=_("How it is going"),
                required=False,
                initial=entry.narrative,
                max_length=limits.NARRATIVE_MAX,
                widget=forms.Textarea(attrs={"rows": 4}),
            )

    def entry_rows(self):
        return [
            (entry, self[f"progress_{entry.area_id}"], self[f"narrative_{entry.area_id}"]) for entry in self.entries
        ]

    def entry_inputs(self):
        return [
            EntryInput(
                area_id=entry.area_id,
                progress=self.cleaned_data[f"progress_{entry.area_id}"],
                narrative=self.cleaned_data[f"narrative_{entry.area_id}"],
            )
            for entry in self.entries
        ]


class FollowUpReviewForm(forms.Form):
    ACCEPT = "accept"
    RETURN = "return"
    verdict = forms.ChoiceField(
        label=_("Your verdict"),
        choices=[(ACCEPT, _("Accept the follow-up")), (RETURN, _("Return it for completion"))],
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=limits.COMMENT_MAX,
        help_text=_("Required when you return it: say what is missing."),
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("verdict") == self.RETURN and not cleaned.get("comment", "").strip():
            self.add_error("comment", _("Say what is missing, so the municipality can complete it."))
        return cleaned
