from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.hashers import make_password
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(
        label=_("E-mail address"),
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )
    error_messages = {
        "invalid_login": _("The e-mail address or the password is wrong. Check both and try again."),
        "inactive": _(
            "Your account is no longer active, so you cannot log in. If you still need Samverkan, "
            "contact %(organisation)s's administrator at %(contact)s."
        ),
        "provider_required": _(
            "Your organisation signs in through its own service: use the button “%(button)s” below. "
            "Your password cannot be used here."
        ),
    }

    def clean(self):
        """Someone whose organisation signs in through its own identity
        provider is sent there before any password is checked (unless an
        administrator allowed passwords for them: permissions.may_use_password)."""
        from . import permissions
        from .models import User
        from .services import sign_in_event_record

        email = self.cleaned_data.get("username")
        user = User.objects.filter(email__iexact=email).first() if email else None
        if user is not None and user.is_active and not permissions.may_use_password(user):
            providers = permissions.sign_in_providers_of(user)
            sign_in_event_record(
                kind="failed", request=self.request, email=email, method="password", detail="password not allowed"
            )
            button = gettext("Log in with %(name)s") % {"name": providers[0].name if providers else ""}
            raise forms.ValidationError(
                self.error_messages["provider_required"], code="provider_required", params={"button": button}
            )
        try:
            return super().clean()
        except forms.ValidationError as error:
            if error.code == "invalid_login":
                self._refuse_deactivated(user)
            raise

    def _refuse_deactivated(self, user):
        """The right password of a deactivated account: tell its owner the account
        is not active and whom to contact. Only with the right password: a wrong
        one gets the same message as an unknown address, so that nobody learns
        which accounts exist (or existed)."""
        from django.conf import settings

        password = self.cleaned_data.get("password") or ""
        if user is None or user.is_active:
            # As long as the check below, so that the time taken does not tell a
            # deactivated account from an unknown address either.
            make_password(password)
            return
        if not user.check_password(password):
            return
        raise forms.ValidationError(
            self.error_messages["inactive"],
            code="inactive",
            params={"organisation": settings.SITE_ORGANISATION, "contact": settings.SUPPORT_EMAIL},
        )


class OneTimeCodeForm(forms.Form):
    """The six-digit code an authenticator app shows."""

    code = forms.CharField(
        label=_("Code from your authenticator app"),
        help_text=_("Six digits. A new code is shown every 30 seconds."),
        max_length=12,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True, "spellcheck": "false"}
        ),
        error_messages={"required": _("Enter the six-digit code from your authenticator app.")},
    )

    def clean_code(self):
        code = self.cleaned_data["code"].replace(" ", "").replace("-", "")
        if not (code.isdigit() and len(code) == 6):
            raise forms.ValidationError(_("The code is six digits, e.g. 123456."))
        return code


class EnrolmentCodeForm(forms.Form):
    """The one-time enrolment code an administrator handed out."""

    enrolment_code = forms.CharField(
        label=_("Enrolment code from your administrator"),
        help_text=_("Ten letters and digits, e.g. ABCDE-23456."),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"}),
        error_messages={"required": _("Enter the enrolment code you were given.")},
    )


class RecoveryCodeForm(forms.Form):
    """One of the recovery codes shown when the app was set up."""

    recovery_code = forms.CharField(
        label=_("Recovery code"),
        help_text=_("One of the codes you saved when you set up the app, e.g. ABCDE-23456. Each works once."),
        max_length=20,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters", "autofocus": True}
        ),
        error_messages={"required": _("Enter one of your recovery codes.")},
    )


class ResetReasonForm(forms.Form):
    """Why an administrator resets someone's two-step verification."""

    reason = forms.CharField(
        label=_("Reason"),
        help_text=_("Kept in the user's history, and sent to the user."),
        max_length=300,
        widget=forms.TextInput(),
        error_messages={"required": _("Say why, e.g. “Lost phone, identity checked by telephone”.")},
    )

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError(_("Say why, e.g. “Lost phone, identity checked by telephone”."))
        return reason


class _DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class _PersonChoice(forms.ModelChoiceField):
    """Offers ``queryset``; accepts anyone of ``accepts`` (when set), so that a
    person who may not be chosen gets the service's clear reason, not "not one
    of the choices"."""

    accepts = None

    def label_from_instance(self, obj):
        return f"{obj.full_name} ({obj.email})"

    def to_python(self, value):
        if self.accepts is None or value in self.empty_values:
            return super().to_python(value)
        offered, self.queryset = self.queryset, self.accepts
        try:
            return super().to_python(value)
        finally:
            self.queryset = offered


class AbsenceForm(forms.Form):
    """An absence: from, to, and the substitute. ``for_others``: the one who
    records may name the absent person (administrators and coordinators)."""

    user = _PersonChoice(label=_("Absent person"), queryset=None, required=True)
    starts_on = forms.DateField(label=_("From"), widget=_DateInput())
    ends_on = forms.DateField(label=_("To"), widget=_DateInput(), help_text=_("The last day of the absence."))
    substitute = _PersonChoice(
        label=_("Substitute"),
        queryset=None,
        help_text=_("Takes your steps while you are away: someone in the same organisation."),
    )

    field_order = ["user", "starts_on", "ends_on", "substitute"]

    def __init__(self, *args, user=None, for_others=False, **kwargs):
        from .models import Membership, User

        super().__init__(*args, **kwargs)
        people = User.objects.order_by("full_name", "email")
        substitute = self.fields["substitute"]
        substitute.accepts = people
        if for_others:
            self.fields["user"].queryset = people.filter(is_active=True)
            substitute.queryset = people.filter(is_active=True)
        else:
            del self.fields["user"]
            # Offered: the active people of the organisations the person belongs to.
            substitute.queryset = (
                people.filter(
                    is_active=True,
                    memberships__is_active=True,
                    memberships__organisation__in=Membership.objects.active().filter(user=user).values("organisation"),
                )
                .exclude(pk=getattr(user, "pk", None))
                .distinct()
            )

    def clean(self):
        data = super().clean()
        starts_on, ends_on = data.get("starts_on"), data.get("ends_on")
        if starts_on and ends_on and ends_on < starts_on:
            self.add_error("ends_on", gettext("The absence cannot end before it starts."))
        return data
