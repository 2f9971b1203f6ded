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


def enrolment_link_from_outbox(user):
    """The enrolment link in the latest e-mail to ``user`` (the outbox is
    delivered first, as the worker would)."""
    import re

    from django.core import mail

    from background.mail import deliver_due

    deliver_due()

    for message in reversed(mail.outbox):
        if user.email in message.to:
            found = re.search(r"https?://\S+/konto/tvastegsverifiering/lank/\S+/", message.body)
            if found:
                return found.group(0)
    raise AssertionError(f"no enrolment link was e-mailed to {user.email}")


def enrol_by_email(client, user):
    """As the user does: ask for a link on the set-up page, open it from the
    e-mail and press its button. Afterwards the session may set up an app."""
    from urllib.parse import urlsplit

    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(reverse("accounts:enrolment_request"))
    assert response.status_code == 302, response.content.decode()[:300]
    path = urlsplit(enrolment_link_from_outbox(user)).path
    assert client.get(path).status_code == 200
    response = client.post(path)
    assert response.status_code == 302 and response["Location"] == reverse("accounts:two_factor_setup"), response
    return path
