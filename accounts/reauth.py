"""Re-authentication before signing (README › Documents and signatures).

A signatory confirms who they are again when they sign: their password, or the
one-time code from their authenticator app when they have one. A confirmation
counts for ``SIGNING_REAUTH_MINUTES`` in that session. Wrong passwords go
through Django's ``authenticate`` and so count toward the ordinary lock-out
(django-axes and the spraying pause); wrong codes toward django-otp's
throttling.

The signing step runs in one transaction, rolled back when the form is
refused, and with it the failure rows that ``authenticate`` wrote (axes'
attempt, the spraying count, the sign-in event). So a wrong password is also
noted on the request (``PENDING``), and the step's wrapper
(workflows.nodes) calls ``replay_failures`` once that transaction has ended:
Django's ``user_login_failed`` is sent again, outside it, and every counter
records the failure for good."""

import time

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from . import two_factor

SESSION_KEY = "samverkan_signing_reauth"
PENDING = "_samverkan_reauth_failures"
PASSWORD, TOTP = "password", "totp"


def uses_code(user):
    """Does ``user`` confirm with a one-time code (they have an app) rather than a password?"""
    return two_factor.has_device(user)


def fresh_method(request):
    """How this session's user confirmed who they are within the last
    SIGNING_REAUTH_MINUTES, or None."""
    value = request.session.get(SESSION_KEY) or {}
    if value.get("user") != request.user.pk:
        return None
    if time.time() - float(value.get("at", 0)) > settings.SIGNING_REAUTH_MINUTES * 60:
        return None
    return value.get("method")


def reauthenticate(request, secret):
    """Check ``secret`` (the password, or the code) for the signed-in user and
    return the method ("password" or "totp"); an empty secret is accepted while
    an earlier confirmation is fresh. Raises ValidationError otherwise."""
    user = request.user
    if not secret:
        method = fresh_method(request)
        if method is None:
            raise ValidationError(_("Confirm who you are to sign."))
        return method
    if uses_code(user):
        device, wait = two_factor.device_verify(user=user, code=secret)
        if device is None:
            if wait:
                raise ValidationError(_("Too many wrong codes. Try again in %(seconds)s seconds.") % {"seconds": wait})
            raise ValidationError(_("The code is not right."))
        method = TOTP
    else:
        confirmed = authenticate(request, username=user.email, password=secret)
        if confirmed is None or confirmed.pk != user.pk:
            request.__dict__.setdefault(PENDING, []).append(user.email)
            raise ValidationError(_("The password is not right."))
        method = PASSWORD
    request.session[SESSION_KEY] = {"user": user.pk, "at": time.time(), "method": method}
    return method


def replay_failures(request):
    """Report this request's wrong signing passwords again, after the transaction
    that wrote (and rolled back) their failure rows has ended."""
    for email in request.__dict__.pop(PENDING, []):
        # The rolled-back attempt may have marked the request locked out (the limit
        # reached); axes records no failure for a locked-out request, so it is
        # counted afresh, and marked again if this failure reaches the limit.
        request.axes_locked_out = False
        user_login_failed.send(sender=__name__, credentials={"username": email}, request=request)
