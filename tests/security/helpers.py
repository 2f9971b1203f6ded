"""Helpers for signing in over HTTP as users do: the real /login/ form, and the
one-time code step of two-step verification."""

import binascii

from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import two_factor
from tests.factories.accounts import PASSWORD


def post_login(client, email, password=PASSWORD, **extra):
    """POST the login form (``extra``: e.g. REMOTE_ADDR="192.0.2.7")."""
    return client.post(reverse("login"), {"username": email, "password": password}, **extra)


def is_logged_in(client):
    return "_auth_user_id" in client.session


def give_device(user):
    """A confirmed authenticator app for ``user``."""
    return TOTPDevice.objects.create(user=user, name="Test", confirmed=True)


def code_for(device):
    """The code ``device``'s app shows now (as a zero-padded string)."""
    return f"{totp(device.bin_key):06d}"


def pending_code(client):
    """The code the app being set up in ``client``'s session shows now."""
    key = client.session[two_factor.PENDING_KEY_SESSION_KEY]
    return f"{totp(binascii.unhexlify(key)):06d}"


def verify_otp(client, user):
    """Pass the code step for ``user`` (logged in on ``client``), giving them an
    app first if they have none. For tests that need a coordinator past 2FA."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or give_device(user)
    response = client.post(reverse("accounts:two_factor_verify"), {"code": code_for(device)})
    assert response.status_code == 302, response.content.decode()[:500]
    return device
