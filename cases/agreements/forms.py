"""Forms of the agreements: opening, the draft and its areas, review,
decisions, signatures, withdrawal, attachments, the list's filters, renewal
and comparison. Field-level checks live here; the rules of the domain are
checked again by the services, whose errors are shown next to the field they
concern (``cases.forms.apply_errors``)."""

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Organisation

from .. import limits
from ..forms import DateInput, UploadField
from ..widgets import FastSelect, LabelledModelChoiceField
from .models import AgreementRevision, Decision, PlanPeriod, PlanPriority, Stage


class OpenAgreementForm(forms.Form):
    municipality = forms.ModelChoiceField(
        label=_("Municipality"),
        queryset=Organisation.objects.filter(kind=Organisation.Kind.MUNICIPALITY, is_active=True).order_by("name"),
    )
    plan_period = forms.ModelChoiceField(label=_("Plan period"), queryset=PlanPeriod.objects.filter(is_active=True))
    title = forms.CharField(label=_("Title"), max_length=300)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan_period"].empty_label = None


class DraftForm(forms.Form):
    title = forms.CharField(label=_("Title of the agreement"), max_length=limits.TITLE_MAX)


class AreaForm(forms.Form):
    id = forms.IntegerField(widget=forms.HiddenInput, required=False)
    title = forms.CharField(label=_("Title"), max_length=limits.TITLE_MAX)
    goal = forms.CharField(label=_("Goal"), max_length=limits.AREA_TEXT_MAX, widget=forms.Textarea(attrs={"rows": 3}))
    region_commitment = forms.CharField(
        label=_("What the region commits to"),
        max_length=limits.AREA_TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    municipality_commitment = forms.CharField(
        label=_("What the municipality commits to"),
        max_length=limits.AREA_TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    contacts = forms.CharField(
        label=_("Contact persons"),
        required=False,
        max_length=limits.CONTACTS_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Name, role and e-mail, one per line."),
    )
    priorities = forms.ModelMultipleChoiceField(
        label=_("Plan priorities"),
        queryset=PlanPriority.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, plan_period=None, **kwargs):
        super().__init__(*args, **kwargs)
        # Retired priorities are no longer offered, but an area keeps those it already links to.
        linked = [getattr(p, "pk", p) for p in self.initial.get("priorities") or ()]
        self.fields["priorities"].queryset = PlanPriority.objects.filter(plan_period=plan_period).filter(
            Q(retired_at__isnull=True) | Q(pk__in=linked)
        )


class BaseAreaFormSet(forms.BaseFormSet):
    def __init__(self, *args, plan_period=None, **kwargs):
        self.plan_period = plan_period
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "plan_period": self.plan_period}

    def add_fields(self, form, index):
        super().add_fields(form, index)
        # Only an area that exists can be removed; a new, empty one is simply left blank.
        if index is None or index >= self.initial_form_count():
            form.fields.pop("DELETE", None)


AreaFormSet = forms.formset_factory(AreaForm, formset=BaseAreaFormSet, extra=1, can_delete=True, max_num=50)


class ReviewForm(forms.Form):
    ACCEPT = "accept"
    CHANGES = "changes"
    verdict = forms.ChoiceField(
        label=_("Your verdict"),
        choices=[(ACCEPT, _("Accept the draft")), (CHANGES, _("Ask for changes"))],
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Comment on the whole agreement"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=limits.COMMENT_MAX,
    )

    def __init__(self, *args, areas=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.areas = list(areas)
        for area in self.areas:
            self.fields[f"area_{area.pk}"] = forms.CharField(
                label=_("Comment on “%(area)s”") % {"area": area.title},
                required=False,
                widget=forms.Textarea(attrs={"rows": 2}),
                max_length=limits.COMMENT_MAX,
            )

    def area_comments(self):
        return [(area, self.cleaned_data.get(f"area_{area.pk}", "")) for area in self.areas]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("verdict") == self.CHANGES:
            texts = [cleaned.get("comment", "")] + [text for _area, text in self.area_comments()]
            if not any(t and t.strip() for t in texts):
                self.add_error("comment", _("Write at least one comment saying what should change."))
        return cleaned


class DecisionForm(forms.Form):
    body = forms.CharField(
        label=_("Decision-making body"),
        max_length=200,
        help_text=_("E.g. Kultur- och bildningsnämnden or Kommunstyrelsen."),
    )
    meeting_date = forms.DateField(label=_("Meeting date"), widget=DateInput())
    paragraph = forms.CharField(label=_("Paragraph"), max_length=20, help_text=_("As in the minutes, e.g. § 45."))
    outcome = forms.ChoiceField(label=_("Outcome"), choices=Decision.Outcome.choices, widget=forms.RadioSelect)
    ends_agreement = forms.BooleanField(
        label=_("The rejection ends the agreement"),
        required=False,
        help_text=_("Leave unticked to send a rejected agreement back to drafting."),
    )
    minutes = UploadField(label=_("Minutes"), required=False)
    # The SHA-256 of the decision material shown on the page: a stale page (a new
    # round has been frozen meanwhile) is refused by the service.
    document_sha256 = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)


class SignForm(forms.Form):
    """The signatory signs for themselves: nothing about who or when is asked
    (it comes from the account and the server's clock). They confirm who they
    are again: their password, or the one-time code when they have an
    authenticator app (``reauth``, see workflows.views.steps.SignStepView)."""

    password = forms.CharField(
        label=_("Your password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    code = forms.CharField(
        label=_("One-time code from your authenticator app"),
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
    # The SHA-256 of the document shown on the page: another one is refused.
    document_sha256 = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    def __init__(self, *args, reauth=None, uses_code=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.reauth, self.uses_code = reauth, uses_code
        self.fields.pop("password" if uses_code else "code")
        self.auth_method = None

    def clean(self):
        data = super().clean()
        field = "code" if self.uses_code else "password"
        if field in self.errors:
            return data
        try:
            self.auth_method = self.reauth(data.get(field) or "")
        except forms.ValidationError as error:
            self.add_error(field, error)
        return data


class PaperSignatureForm(forms.Form):
    """A coordinator records the paper signature of a party's signatory."""

    signatory = forms.ModelChoiceField(label=_("Signatory"), queryset=None, widget=FastSelect)
    signed_copy = UploadField(label=_("Scan of the signed paper"))
    document_sha256 = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    def __init__(self, *args, signatories, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["signatory"].queryset = signatories


class WithdrawForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}), max_length=limits.REASON_MAX)


class AttachmentForm(forms.Form):
    file = UploadField(label=_("File"))


class AgreementFilterForm(forms.Form):
    q = forms.CharField(label=_("Search case number or title"), required=False, max_length=200)
    plan_period = LabelledModelChoiceField(label=_("Plan period"), queryset=PlanPeriod.objects.all(), required=False)
    municipality = LabelledModelChoiceField(
        label=_("Municipality"),
        required=False,
        queryset=Organisation.objects.filter(kind=Organisation.Kind.MUNICIPALITY).order_by("name"),
    )
    stage = forms.ChoiceField(
        label=_("Stage"), choices=[("", "---------")] + Stage.choices, required=False, widget=FastSelect
    )
    overdue = forms.BooleanField(label=_("Only overdue"), required=False)

    def __init__(self, *args, municipalities=None, **kwargs):
        super().__init__(*args, **kwargs)
        if municipalities is not None:
            self.fields["municipality"].queryset = municipalities


class RenewForm(forms.Form):
    plan_period = forms.ModelChoiceField(
        label=_("Next plan period"), queryset=PlanPeriod.objects.filter(is_active=True)
    )
    title = forms.CharField(
        label=_("Title of the new agreement"),
        max_length=300,
        required=False,
        help_text=_("Leave empty to reuse the old title with the new period."),
    )


class OfferAllForm(forms.Form):
    plan_period = forms.ModelChoiceField(label=_("Plan period"), queryset=PlanPeriod.objects.filter(is_active=True))


class CompareForm(forms.Form):
    """Two versions of one agreement: "rev-<id>" (a review round), "draft" or "predecessor"."""

    left = forms.CharField(label=_("Compare"))
    right = forms.CharField(label=_("with"))

    def __init__(self, *args, agreement, **kwargs):
        super().__init__(*args, **kwargs)
        self.agreement = agreement
        choices = [(f"rev-{r.pk}", _("Round %(round)s") % {"round": r.round}) for r in agreement.revisions.all()]
        choices.append(("draft", _("Current text")))
        if agreement.predecessor_id:
            choices.append(
                ("predecessor", _("Previous agreement %(case)s") % {"case": agreement.predecessor.case_number})
            )
        self.version_choices = choices
        for name in ("left", "right"):
            self.fields[name].widget = forms.Select(choices=choices)

    def _version(self, value):
        if value in ("draft", "predecessor"):
            if value == "predecessor" and not self.agreement.predecessor_id:
                raise ValidationError(_("This agreement was not renewed from an earlier one."))
            return value
        if not value.startswith("rev-") or not value[4:].isdigit():
            raise ValidationError(_("Choose one of the listed versions."))
        revision = AgreementRevision.objects.filter(pk=int(value[4:])).first()
        if revision is None:
            raise ValidationError(_("That review round does not exist."))
        if revision.agreement_id != self.agreement.pk:
            raise ValidationError(
                _("That review round belongs to another agreement; only rounds of this agreement can be compared.")
            )
        return revision

    def clean_left(self):
        return self._version(self.cleaned_data["left"])

    def clean_right(self):
        return self._version(self.cleaned_data["right"])


class VerifyDocumentForm(forms.Form):
    file = forms.FileField(
        label=_("PDF to check"),
        help_text=_("A decision material or agreement downloaded from the system."),
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,application/pdf"}),
    )
