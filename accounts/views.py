from datetime import timedelta

import django_otp
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db.models import Max
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from . import enrolment, oidc, permissions, providers, sessions, two_factor
from .forms import EmailAuthenticationForm, EnrolmentCodeForm, OneTimeCodeForm, RecoveryCodeForm


class LoginView(auth_views.LoginView):
    form_class = EmailAuthenticationForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        next_url = self.get_redirect_url()
        context["providers"] = [
            {
                "name": provider.name,
                "url": reverse("accounts:oidc_login", args=[provider.key])
                + (f"?{urlencode({'next': next_url})}" if next_url else ""),
            }
            for provider in providers.all_providers()
        ]
        return context


# ----------------------------------------------------------------------------
# Lock-out after repeated failed logins (django-axes, see config/settings/base.py)
# ----------------------------------------------------------------------------


def axes_username(request, credentials=None):
    """The e-mail address a login attempt was for, as django-axes counts it:
    trimmed and lower-case, so that "Anna@Mora.se" and "anna@mora.se" are one
    account (as they are when logging in)."""
    credentials = credentials or {}
    value = credentials.get("username") or credentials.get("email")
    if not value and request is not None:
        value = getattr(request, "POST", {}).get("username")
    return str(value).strip().lower() if value else None


def _locked_until(request, credentials, cool_off):
    """When the lock-out of this e-mail address from this address ends: the
    last counted failure plus the cool-off, rounded up to the minute."""
    latest = None
    try:
        from axes.handlers.proxy import AxesProxyHandler

        for attempts in AxesProxyHandler.get_implementation().get_user_attempts(request, credentials):
            value = attempts.aggregate(latest=Max("attempt_time"))["latest"]
            if value is not None and (latest is None or value > latest):
                latest = value
    except AttributeError:  # a handler that keeps no attempt rows
        latest = None
    return _up_to_the_minute((latest or timezone.now()) + cool_off)


def _up_to_the_minute(moment):
    if moment.second or moment.microsecond:
        return moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return moment


def lockout_response(request, original_response=None, credentials=None):
    """The page a locked-out login attempt gets (AXES_LOCKOUT_CALLABLE): says
    when to try again, with status 429 Too Many Requests."""
    from axes.helpers import get_cool_off

    from .spraying import paused_for_spraying

    cool_off = get_cool_off(request)
    sprayed = paused_for_spraying(request)
    if sprayed is not None:
        until = _up_to_the_minute(sprayed)
    else:
        until = _locked_until(request, credentials, cool_off) if cool_off else None
    context = {
        "sprayed": sprayed is not None,
        "spray_limit": settings.LOGIN_SPRAY_LIMIT,
        "until": until,
        "until_is_today": until is not None and timezone.localdate(until) == timezone.localdate(),
        "cool_off_minutes": int(cool_off.total_seconds() // 60) if cool_off else None,
        "failure_limit": settings.AXES_FAILURE_LIMIT,
    }
    return render(request, "axes/locked_out.html", context, status=429)


# ----------------------------------------------------------------------------
# Two-factor sign-in (TOTP)
# ----------------------------------------------------------------------------


def _next_url(request, default=None):
    """The page to go on to: a same-site ``next`` parameter, else ``default``."""
    candidate = request.POST.get("next") or request.GET.get("next")
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL) if default is None else default


def _with_next(url_name, request):
    url = reverse(url_name)
    next_url = request.POST.get("next") or request.GET.get("next")
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def _sign_in_second_factor(request, device=None, how=None):
    """Mark this session as verified with ``device`` (or otherwise, ``how``:
    see two_factor.verify_otherwise), under a new session key."""
    if device is not None:
        django_otp.login(request, device)
    else:
        two_factor.verify_otherwise(request.session, request.user, how)
    old_key = request.session.session_key
    request.session.cycle_key()
    sessions.session_rekeyed(old_key, request.session.session_key)


@login_required
def two_factor_verify(request):
    """The code step of logging in, for a user who has an authenticator app."""
    state = two_factor.needs_code(request.user, request.session)
    if state is None:
        return redirect(_next_url(request))
    if state == "setup":
        return redirect(_with_next("accounts:two_factor_setup", request))
    form = OneTimeCodeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            device, wait = two_factor.device_verify(user=request.user, code=form.cleaned_data["code"])
            if device is not None:
                _sign_in_second_factor(request, device)
                return redirect(_next_url(request))
            if wait:
                form.add_error(
                    "code",
                    ngettext(
                        "Too many wrong codes. Wait %(seconds)d second and try again.",
                        "Too many wrong codes. Wait %(seconds)d seconds and try again.",
                        wait,
                    )
                    % {"seconds": wait},
                )
            else:
                form.add_error("code", _("The code is wrong or has expired. Enter the code that your app shows now."))
        status = 400
    context = {"form": form, "next": _next_url(request, default="")}
    return render(request, "accounts/two_factor_verify.html", context, status=status)


@login_required
def two_factor_setup(request):
    """Set up an authenticator app: show its secret (QR code and text) and
    confirm one code from it. Replacing an app needs a verified session."""
    user = request.user
    verified = two_factor.session_verified(request)
    if two_factor.has_device(user) and not verified:
        return redirect(_with_next("accounts:two_factor_verify", request))
    if not verified and not enrolment.session_may_enrol(request.session, user):
        return _enrolment_gate(request)
    hex_key = two_factor.pending_key(request.session)
    form = OneTimeCodeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            device = two_factor.device_confirm(user=user, hex_key=hex_key, code=form.cleaned_data["code"])
            if device is not None:
                request.session.pop(two_factor.PENDING_KEY_SESSION_KEY, None)
                enrolment.end_session_grant(request.session)
                _sign_in_second_factor(request, device)
                request.session[RECOVERY_CODES_SESSION_KEY] = enrolment.recovery_codes_create(user=user)
                messages.success(
                    request, _("Two-step verification is on. When you log in, you will be asked for a code.")
                )
                return redirect(_with_next("accounts:recovery_codes", request))
            form.add_error(
                "code",
                _("The code does not match. Check that the clock of your phone is right and enter the code shown now."),
            )
        status = 400
    uri = two_factor.otpauth_uri(hex_key, user)
    context = {
        "form": form,
        "next": _next_url(request, default=""),
        "secret": two_factor.secret_base32(hex_key),
        "otpauth_uri": uri,
        "qr_code": two_factor.qr_svg_data_uri(uri),
        "required": permissions.requires_two_factor(user),
        "replacing": two_factor.has_device(user),
    }
    return render(request, "accounts/two_factor_setup.html", context, status=status)


@login_required
def two_factor_overview(request):
    """The "Two-step verification" page: whether it is on, whether the role
    requires it, and buttons to turn it on, replace the app or turn it off."""
    context = {
        "has_device": two_factor.has_device(request.user),
        "required": permissions.requires_two_factor(request.user),
        "recovery_codes_left": enrolment.recovery_codes_left(request.user),
        "verified_by_provider": (two_factor.verified_otherwise(request.session, request.user) or "").startswith(
            "provider:"
        ),
    }
    return render(request, "accounts/two_factor.html", context)


@login_required
@require_POST
def two_factor_disable(request):
    user = request.user
    if permissions.requires_two_factor(user):
        messages.error(request, _("Your role requires two-step verification, so it cannot be turned off."))
        return redirect("accounts:two_factor")
    if two_factor.has_device(user) and not two_factor.session_verified(request):
        return redirect(_with_next("accounts:two_factor_verify", request))
    two_factor.devices_remove(user=user)
    request.session.pop(django_otp.DEVICE_ID_SESSION_KEY, None)
    messages.success(request, _("Two-step verification is off. You log in with your password only."))
    return redirect("accounts:two_factor")


RECOVERY_CODES_SESSION_KEY = "samverkan_recovery_codes_to_show"


# ----------------------------------------------------------------------------
# Enrolment: setting up the first app needs more than the password
# ----------------------------------------------------------------------------


def _enrolment_gate(request):
    """The set-up page for someone who may not set up an app yet: ask for a
    link by e-mail, or type the code an administrator handed out."""
    user = request.user
    form = EnrolmentCodeForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            outcome = enrolment.code_try(user=user, code=form.cleaned_data["enrolment_code"], request=request)
            if outcome == "ok":
                return redirect(_with_next("accounts:two_factor_setup", request))
            if outcome == "wait":
                form.add_error(
                    "enrolment_code", _("Too many wrong codes. Wait a quarter of an hour, or ask for a link by e-mail.")
                )
            else:
                form.add_error(
                    "enrolment_code",
                    _("The code is wrong, used or expired. Check it, or ask your administrator for a new one."),
                )
    context = {
        "form": form,
        "next": _next_url(request, default=""),
        "required": permissions.requires_two_factor(user),
        "email": user.email,
    }
    return render(request, "accounts/enrolment_gate.html", context, status=status)


@login_required
@require_POST
def enrolment_request(request):
    """E-mail the signed-in user a one-time link that lets them set up an app."""
    user = request.user
    if two_factor.has_device(user) and not two_factor.session_verified(request):
        return redirect(_with_next("accounts:two_factor_verify", request))
    if enrolment.link_send(user=user):
        messages.success(
            request,
            _("We have sent a link to %(email)s. Open it in this browser within %(minutes)d minutes.")
            % {"email": user.email, "minutes": enrolment.link_minutes()},
        )
    else:
        messages.info(request, _("A link was sent a moment ago. Wait a minute before you ask for another."))
    return redirect(_with_next("accounts:two_factor_setup", request))


def enrolment_link(request, token):
    """The link from the e-mail. Opening it shows a button (mail scanners
    open links too, and must not use them up); pressing it, signed in as the
    account the link was sent to, lets this session set up an app."""
    if not request.user.is_authenticated:
        return redirect(f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': request.get_full_path()})}")
    found = enrolment.link_find(token)
    if found is None or found.user_id != request.user.pk:
        return render(request, "accounts/enrolment_link.html", {"usable": False}, status=404)
    if request.method == "POST":
        if enrolment.token_use(token=found, session=request.session):
            return redirect("accounts:two_factor_setup")
        return render(request, "accounts/enrolment_link.html", {"usable": False}, status=404)
    return render(request, "accounts/enrolment_link.html", {"usable": True, "expires_at": found.expires_at})


@login_required
def recovery_codes(request):
    """The recovery codes just made, shown once; and a button to make new ones
    (which needs a verified session)."""
    if request.method == "POST":
        if not two_factor.has_device(request.user):
            return redirect("accounts:two_factor")
        if not two_factor.session_verified(request):
            return redirect(_with_next("accounts:two_factor_verify", request))
        request.session[RECOVERY_CODES_SESSION_KEY] = enrolment.recovery_codes_create(user=request.user)
        return redirect("accounts:recovery_codes")
    codes = request.session.pop(RECOVERY_CODES_SESSION_KEY, None)
    context = {
        "codes": codes,
        "left": enrolment.recovery_codes_left(request.user),
        "next": _next_url(request, default=reverse("accounts:two_factor")),
    }
    return render(request, "accounts/recovery_codes.html", context)


@login_required
def two_factor_recovery(request):
    """The code step with a recovery code instead of the app (lost phone)."""
    user = request.user
    if two_factor.needs_code(user, request.session) != "verify":
        return redirect(_next_url(request))
    form = RecoveryCodeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            if enrolment.recovery_code_use(user=user, code=form.cleaned_data["recovery_code"]):
                _sign_in_second_factor(request, how="recovery")
                left = enrolment.recovery_codes_left(user)
                messages.warning(
                    request,
                    ngettext(
                        "You used a recovery code; %(left)d is left. Set up your app again now, or ask for new codes.",
                        "You used a recovery code; %(left)d are left. Set up your app again now, or ask for new codes.",
                        left,
                    )
                    % {"left": left},
                )
                return redirect(_next_url(request, default=reverse("accounts:two_factor")))
            from .services import sign_in_event_record

            sign_in_event_record(kind="failed", request=request, user=user, method="recovery_code", detail="wrong code")
            form.add_error("recovery_code", _("The code is wrong or has been used. Each recovery code works once."))
    context = {"form": form, "next": _next_url(request, default="")}
    return render(request, "accounts/two_factor_recovery.html", context, status=status)


# ----------------------------------------------------------------------------
# The user's own sign-ins and sessions
# ----------------------------------------------------------------------------

SIGN_INS_SHOWN = 20


@login_required
def sign_ins(request):
    """My recent sign-ins (time, method, address) and where I am signed in now."""
    from .models import SignInEvent

    events = list(
        SignInEvent.objects.filter(user=request.user)
        .only("kind", "at", "method", "ip", "user_agent", "detail")
        .order_by("-at", "-id")[:SIGN_INS_SHOWN]
    )
    active = sessions.active_sessions(request.user)
    current = request.session.session_key
    labels = _method_labels()
    for row in (*events, *active):
        row.method_label = labels.get(row.method, row.method)
    context = {
        "events": events,
        "sessions": active,
        "current_key": current,
        "others": [s for s in active if s.session_key != current],
    }
    return render(request, "accounts/sign_ins.html", context)


def _method_labels():
    labels = {
        "password": _("Password"),
        "enrolment_code": _("Enrolment code"),
        "recovery_code": _("Recovery code"),
    }
    for provider in providers.all_providers():
        labels[f"oidc:{provider.key}"] = provider.name
    return labels


@login_required
@require_POST
def sessions_end(request):
    """End one of my other sessions (``session``), or all of them."""
    raw = request.POST.get("session", "")
    ids = None
    if raw != "all":
        if not raw.isdigit():
            messages.error(request, _("Choose a session to end."))
            return redirect("accounts:sign_ins")
        ids = [int(raw)]
    ended = sessions.sessions_end(user=request.user, request=request, session_ids=ids)
    if ended:
        messages.success(
            request,
            ngettext(
                "%(count)d session ended: that browser is signed out.",
                "%(count)d sessions ended: those browsers are signed out.",
                ended,
            )
            % {"count": ended},
        )
    else:
        messages.info(request, _("There was no other session to end."))
    return redirect("accounts:sign_ins")


# ----------------------------------------------------------------------------
# Sign-in through the organisation's identity provider (OpenID Connect)
# ----------------------------------------------------------------------------


def _provider_or_404(key):
    from django.http import Http404

    provider = providers.get_provider(key)
    if provider is None:
        raise Http404
    return provider


def _provider_down(request, provider):
    messages.error(
        request,
        _(
            "%(provider)s does not answer just now, so you cannot sign in through it. "
            "Try again in a while. If your organisation allows it, sign in with your e-mail address and password."
        )
        % {"provider": provider.name},
    )
    return redirect("login")


def oidc_login(request, provider):
    """Send the browser to the provider to sign in."""
    provider = _provider_or_404(provider)
    next_url = request.GET.get("next") or ""
    if next_url and not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""
    redirect_uri = request.build_absolute_uri(reverse("accounts:oidc_callback", args=[provider.key]))
    try:
        url = oidc.authorization_url(request, provider, redirect_uri=redirect_uri, next_url=next_url)
    except oidc.ProviderUnavailable as error:
        oidc.log.warning("Provider %s unavailable: %s", provider.key, error)
        return _provider_down(request, provider)
    return redirect(url)


def oidc_callback(request, provider):
    """Where the provider sends the browser back with a code. Every refusal
    signs nobody in, writes a failed sign-in event saying why, and returns to
    the login page with a message."""
    from django.contrib.auth import login

    from .services import SignInRefused, provider_sign_in, sign_in_event_record

    provider = _provider_or_404(provider)
    method = f"oidc:{provider.key}"

    def refuse(reason, email="", message=None):
        sign_in_event_record(kind="failed", request=request, email=email, method=method, detail=reason)
        oidc.log.warning("Sign-in through %s refused: %s", provider.key, reason)
        messages.error(
            request,
            message
            or _("The sign-in through %(provider)s could not be completed. Nobody was signed in. Try again.")
            % {"provider": provider.name},
        )
        return redirect("login")

    entry = oidc.pop_state(request, provider, request.GET.get("state"))
    if request.GET.get("error"):
        return refuse(f"{oidc.PROVIDER_ERROR}: {request.GET.get('error')}"[:200])
    if entry is None:
        return refuse(oidc.STATE_MISMATCH)
    code = request.GET.get("code")
    if not code:
        return refuse(oidc.INVALID_TOKEN + ": no code")
    redirect_uri = request.build_absolute_uri(reverse("accounts:oidc_callback", args=[provider.key]))
    try:
        claims = oidc.ProviderClient(provider).claims(
            code=code, redirect_uri=redirect_uri, nonce=entry.get("nonce"), code_verifier=entry.get("code_verifier")
        )
    except oidc.ProviderUnavailable as error:
        oidc.log.warning("Provider %s unavailable: %s", provider.key, error)
        return _provider_down(request, provider)
    except oidc.TokenRefused as error:
        return refuse(error.reason)
    try:
        result = provider_sign_in(provider=provider, claims=claims)
    except SignInRefused as error:
        message = None
        if error.reason == "account deactivated":
            message = _("This account is deactivated. Contact your administrator.")
        elif error.reason.startswith("e-mail address"):
            message = _(
                "%(provider)s signed you in as %(email)s, which is not an address of the organisations it serves "
                "here. Contact your administrator."
            ) % {"provider": provider.name, "email": error.email or "?"}
        return refuse(error.reason, email=error.email, message=message)

    request.samverkan_sign_in_method = method
    login(request, result.user, backend="django.contrib.auth.backends.ModelBackend")
    if provider.is_multi_factor(claims):
        two_factor.verify_otherwise(request.session, result.user, method)
    if result.problems:
        messages.warning(
            request,
            _(
                "Some of the roles your organisation gives you could not be given here; "
                "the administrators can see why. Ask them if you miss something."
            ),
        )
    return redirect(entry.get("next") or resolve_url(settings.LOGIN_REDIRECT_URL))


@login_required
def absences(request):
    """My absences and substitutes (and, for administrators and coordinators,
    everyone's): record one, end one early; the absences I stand in for."""
    from django.core.exceptions import ValidationError

    from . import services
    from .forms import AbsenceForm
    from .models import Absence

    for_others = permissions.may_record_absences_for_others(request.user)
    form = AbsenceForm(request.POST or None, user=request.user, for_others=for_others)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                absence = services.absence_record(
                    actor=request.user,
                    user=data.get("user") or request.user,
                    starts_on=data["starts_on"],
                    ends_on=data["ends_on"],
                    substitute=data["substitute"],
                )
            except ValidationError as error:
                for field, messages_ in error.message_dict.items():
                    form.add_error(field if field in form.fields else None, messages_)
            else:
                messages.success(
                    request,
                    _("The absence %(from)s–%(to)s is recorded; %(name)s takes the steps meanwhile.")
                    % {"from": absence.starts_on, "to": absence.ends_on, "name": absence.substitute.full_name},
                )
                return redirect("accounts:absences")
        status = 400
    rows = Absence.objects.select_related("user", "substitute").order_by("-starts_on", "-pk")
    today = timezone.localdate()
    mine = list(rows.filter(user=request.user)[:50])
    standing_in = list(rows.filter(substitute=request.user, ended_early_at__isnull=True, ends_on__gte=today)[:50])
    everyone = list(rows.filter(ended_early_at__isnull=True, ends_on__gte=today)[:200]) if for_others else []
    for absence in {*mine, *standing_in, *everyone}:
        absence.can_end = absence.ended_early_at is None and absence.ends_on >= today
    context = {
        "form": form,
        "mine": mine,
        "standing_in": standing_in,
        "everyone": everyone,
        "for_others": for_others,
        "today": today,
    }
    return render(request, "accounts/absences.html", context, status=status)


@login_required
@require_POST
def absence_end(request, pk):
    from django.core.exceptions import PermissionDenied, ValidationError
    from django.http import Http404

    from . import services
    from .models import Absence

    absence = Absence.objects.select_related("user").filter(pk=pk).first()
    if absence is None or not permissions.can_record_absence_for(request.user, absence.user):
        raise Http404
    try:
        services.absence_end(actor=request.user, absence=absence)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    except PermissionDenied:
        raise
    else:
        messages.success(request, _("The absence has ended; the substitute no longer takes the steps."))
    return redirect("accounts:absences")
