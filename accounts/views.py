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

from . import permissions, two_factor
from .forms import EmailAuthenticationForm, OneTimeCodeForm


class LoginView(auth_views.LoginView):
    form_class = EmailAuthenticationForm
    redirect_authenticated_user = True


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


def _sign_in_second_factor(request, device):
    """Mark this session as verified with ``device``, under a new session key."""
    django_otp.login(request, device)
    request.session.cycle_key()


@login_required
def two_factor_verify(request):
    """The code step of logging in, for a user who has an authenticator app."""
    state = two_factor.needs_code(request.user)
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
    if two_factor.has_device(user) and not user.is_verified():
        return redirect(_with_next("accounts:two_factor_verify", request))
    hex_key = two_factor.pending_key(request.session)
    form = OneTimeCodeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            device = two_factor.device_confirm(user=user, hex_key=hex_key, code=form.cleaned_data["code"])
            if device is not None:
                request.session.pop(two_factor.PENDING_KEY_SESSION_KEY, None)
                _sign_in_second_factor(request, device)
                messages.success(
                    request, _("Two-step verification is on. When you log in, you will be asked for a code.")
                )
                return redirect(_next_url(request, default=reverse("accounts:two_factor")))
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
    }
    return render(request, "accounts/two_factor.html", context)


@login_required
@require_POST
def two_factor_disable(request):
    user = request.user
    if permissions.requires_two_factor(user):
        messages.error(request, _("Your role requires two-step verification, so it cannot be turned off."))
        return redirect("accounts:two_factor")
    if two_factor.has_device(user) and not user.is_verified():
        return redirect(_with_next("accounts:two_factor_verify", request))
    two_factor.devices_remove(user=user)
    request.session.pop(django_otp.DEVICE_ID_SESSION_KEY, None)
    messages.success(request, _("Two-step verification is off. You log in with your password only."))
    return redirect("accounts:two_factor")
