"""Two-factor sign-in with a time-based one-time code (TOTP, RFC 6238) from an
authenticator app, on django-otp's TOTPDevice.

Who must use it is a permission rule (``permissions.requires_two_factor``);
a user who has turned it on voluntarily is asked for a code too. The secret of
a device being set up lives only in the session until the user confirms a
code from it, so looking at the set-up page writes nothing.

Devices are credentials, not case data: a replaced or switched-off device is
deleted (a kept secret would be a liability), and each change is logged.
"""

import base64
import binascii
import logging
import math
import time
from io import BytesIO

from django.db import transaction
from django.utils import timezone
from django_otp import devices_for_user
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.util import random_hex

from . import permissions

log = logging.getLogger("samverkan.security")

PENDING_KEY_SESSION_KEY = "samverkan_totp_pending_key"
DEVICE_NAME = "Autentiseringsapp"
# As TOTPDevice's defaults: 30-second steps, 6 digits, one step of clock skew either way.
STEP, DIGITS, TOLERANCE = 30, 6, 1


def has_device(user):
    """Has ``user`` a confirmed authenticator app?"""
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).exists()


NO_DEVICE_SESSION_KEY = "samverkan_2fa_no_device"
# {"user": pk, "how": "provider:<key>" | "recovery"}: the second step was
# given otherwise than with the app (see verified_otherwise).
OTHERWISE_SESSION_KEY = "samverkan_2fa_otherwise"


def verify_otherwise(session, user, how):
    """Mark ``session`` as past the second step for ``user``: the identity
    provider vouched for more than one factor ("provider:<key>"), or the user
    gave one of their recovery codes ("recovery")."""
    session[OTHERWISE_SESSION_KEY] = {"user": user.pk, "how": how}


def verified_otherwise(session, user):
    """How ``session`` passed the second step without the app, or None."""
    if session is None or not user.is_authenticated:
        return None
    value = session.get(OTHERWISE_SESSION_KEY) or {}
    return value.get("how") if value.get("user") == user.pk else None


def session_verified(request):
    """Has this session given a second step (a code from the app, a provider's
    multi-factor sign-in or a recovery code)?"""
    user = request.user
    is_verified = getattr(user, "is_verified", None)
    if is_verified is not None and is_verified():
        return True
    return verified_otherwise(request.session, user) is not None


def needs_code(user, session=None):
    """Must ``user`` give a one-time code before going on: "verify" (they have
    an app), "setup" (they must set one up first) or None.

    That a user has no app is remembered in ``session`` (apps are added only
    through the set-up page, which verifies the session), so pages do not ask
    the database on every request; the role is checked every time."""
    if not user.is_authenticated:
        return None
    is_verified = getattr(user, "is_verified", None)
    if is_verified is not None and is_verified():
        return None
    if verified_otherwise(session, user):
        return None
    known_without = session is not None and session.get(NO_DEVICE_SESSION_KEY) == user.pk
    if not known_without:
        if has_device(user):
            return "verify"
        if session is not None:
            session[NO_DEVICE_SESSION_KEY] = user.pk
    if permissions.requires_two_factor(user):
        return "setup"
    return None


def pending_key(session):
    """The hex secret of the app being set up in this session (made on first use)."""
    key = session.get(PENDING_KEY_SESSION_KEY)
    if not key:
        key = random_hex(20)
        session[PENDING_KEY_SESSION_KEY] = key
    return key


def secret_base32(hex_key):
    """The secret as people type it into an app: base32 in groups of four."""
    text = base64.b32encode(binascii.unhexlify(hex_key)).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def otpauth_uri(hex_key, user):
    """The otpauth:// URI an authenticator app reads from the QR code."""
    device = TOTPDevice(user=user, key=hex_key, step=STEP, digits=DIGITS)
    return device.config_url


def qr_svg_data_uri(text):
    """A QR code of ``text`` as an SVG data: URI (pure Python, no image library)."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buffer = BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def _matching_step(hex_key, code):
    """The time step at which ``code`` is valid for ``hex_key``, or None."""
    code = (code or "").replace(" ", "")
    if not code.isdigit() or len(code) != DIGITS:
        return None
    totp = TOTP(binascii.unhexlify(hex_key), step=STEP, digits=DIGITS)
    totp.time = time.time()
    if totp.verify(int(code), tolerance=TOLERANCE):
        return totp.t()
    return None


@transaction.atomic
def device_confirm(*, user, hex_key, code):
    """Confirm the app being set up with a code it shows. On success the new
    device replaces any earlier ones and is returned; otherwise None."""
    step = _matching_step(hex_key, code)
    if step is None:
        return None
    replaced = TOTPDevice.objects.filter(user=user).delete()[0]
    # last_t: the confirming code cannot be used again to sign in.
    device = TOTPDevice.objects.create(
        user=user, name=DEVICE_NAME, key=hex_key, step=STEP, digits=DIGITS, confirmed=True, last_t=step
    )
    log.info("Two-factor sign-in set up for user %s (replacing %d earlier devices).", user.pk, replaced)
    return device


@transaction.atomic
def device_verify(*, user, code):
    """Check a sign-in code against the user's apps. Returns (device or None,
    seconds to wait before the next try or None). Wrong codes make each next
    try wait longer (django-otp's throttling), so codes cannot be guessed."""
    code = (code or "").replace(" ", "")
    wait = None
    for device in devices_for_user(user, confirmed=True, for_verify=True):
        allowed, details = device.verify_is_allowed()
        if not allowed:
            locked_until = (details or {}).get("locked_until")
            if locked_until is not None:
                wait = max(1, math.ceil((locked_until - timezone.now()).total_seconds()))
            continue
        if device.verify_token(code):
            return device, None
        log.info("Wrong two-factor code for user %s.", user.pk)
    return None, wait


@transaction.atomic
def devices_remove(*, user):
    """Switch two-factor sign-in off for a user whose role does not require it."""
    from .models import RecoveryCode

    count = TOTPDevice.objects.filter(user=user).delete()[0]
    RecoveryCode.objects.filter(user=user).delete()
    log.info("Two-factor sign-in switched off for user %s (%d devices).", user.pk, count)
    return count
