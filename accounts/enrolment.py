"""Setting up two-step verification so that a password alone cannot do it.

The hijack this closes: whoever first typed a coordinator's password used to
be the one who set up the account's authenticator app, and so could lock the
real owner out. Now the first app of an account needs, besides the password,
one of:

- a one-time link e-mailed to the account's own address (``link_send``), or
- a one-time code an administrator hands out (``code_create``),

unless the session is already verified (replacing an app, or a provider that
vouched for more than one factor). Either gives *this session* permission to
set up an app for a short while (``grant_session``). Secrets are random, kept
only as an HMAC (``_digest``), used once and expire.

Recovery codes (for a lost phone) are made when an app is set up, shown once,
kept as HMACs and each used once. An administrator can reset a person's
two-step verification (with a reason, in the user's history; the person is
told by e-mail).
"""

import logging
import secrets
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import audit_reasons as reasons
from .emails import send_account_email
from .history import audit_context
from .models import EnrolmentToken, RecoveryCode, SignInEvent, User

log = logging.getLogger("samverkan.security")

GRANT_SESSION_KEY = "samverkan_enrolment_grant"
GRANT_SECONDS = 30 * 60
# A new link at most this often per account (the mailbox is not to be flooded).
LINK_RESEND_SECONDS = 60
# Wrong enrolment codes per account in CODE_WINDOW before further tries wait.
CODE_FAILURES, CODE_WINDOW = 5, timedelta(minutes=15)
RECOVERY_CODES = 10
# No 0/O, 1/I/L: codes are read aloud and typed from paper.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def link_minutes():
    return getattr(settings, "ENROLMENT_LINK_MINUTES", 30)


def code_hours():
    return getattr(settings, "ENROLMENT_CODE_HOURS", 72)


def _digest(secret):
    normalised = secret.strip().upper().replace("-", "").replace(" ", "")
    return salted_hmac("samverkan.enrolment", normalised, algorithm="sha256").hexdigest()


def _random_code(length=10):
    text = "".join(secrets.choice(ALPHABET) for _ in range(length))
    return f"{text[: length // 2]}-{text[length // 2 :]}"


def _usable(user):
    return EnrolmentToken.objects.filter(
        user=user, used_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
    )


# ----------------------------------------------------------------------------
# Permission to enrol, in this session
# ----------------------------------------------------------------------------


def grant_session(session, user):
    session[GRANT_SESSION_KEY] = {"user": user.pk, "until": int(time.time()) + GRANT_SECONDS}


def session_may_enrol(session, user):
    grant = session.get(GRANT_SESSION_KEY) or {}
    return grant.get("user") == user.pk and grant.get("until", 0) > time.time()


def end_session_grant(session):
    session.pop(GRANT_SESSION_KEY, None)


# ----------------------------------------------------------------------------
# The link by e-mail
# ----------------------------------------------------------------------------


@transaction.atomic
def link_send(*, user):
    """E-mail ``user`` a one-time link that lets them set up an app. Returns
    False (and sends nothing) when a link was sent less than a minute ago.
    Earlier unused links stop working: only the newest one counts."""
    User.objects.select_for_update().filter(pk=user.pk).first()  # one sender at a time per account
    now = timezone.now()
    latest = EnrolmentToken.objects.filter(user=user, kind=EnrolmentToken.Kind.LINK).order_by("-created_at").first()
    if latest is not None and (now - latest.created_at).total_seconds() < LINK_RESEND_SECONDS:
        return False
    for token in _usable(user).filter(kind=EnrolmentToken.Kind.LINK):
        token.revoked_at = now
        token.save(update_fields=["revoked_at"])
    secret = secrets.token_urlsafe(32)
    EnrolmentToken.objects.create(
        user=user,
        kind=EnrolmentToken.Kind.LINK,
        token_hash=_digest(secret),
        expires_at=now + timedelta(minutes=link_minutes()),
    )
    url = settings.SITE_URL.rstrip("/") + reverse("accounts:enrolment_link", args=[secret])
    send_account_email(user=user, template="enrolment_link", context={"url": url, "minutes": link_minutes()})
    log.info("Enrolment link e-mailed to user %s.", user.pk)
    return True


def link_find(secret):
    """The usable link token for ``secret``, or None."""
    if not secret or len(secret) > 100:
        return None
    return _usable_by_hash(EnrolmentToken.Kind.LINK, _digest(secret))


def _usable_by_hash(kind, digest):
    token = (
        EnrolmentToken.objects.select_related("user")
        .filter(kind=kind, token_hash=digest, used_at__isnull=True, revoked_at__isnull=True)
        .first()
    )
    if token is None or token.expires_at <= timezone.now():
        return None
    return token


@transaction.atomic
def token_use(*, token, session):
    """Spend ``token`` (once) and let ``session`` set up an app."""
    locked = EnrolmentToken.objects.select_for_update().get(pk=token.pk)
    if locked.used_at is not None or locked.revoked_at is not None or locked.expires_at <= timezone.now():
        return False
    locked.used_at = timezone.now()
    locked.save(update_fields=["used_at"])
    grant_session(session, locked.user)
    log.info("Enrolment %s used by user %s.", locked.kind, locked.user_id)
    return True


# ----------------------------------------------------------------------------
# The code from an administrator
# ----------------------------------------------------------------------------


@transaction.atomic
def code_create(*, actor, user, reason):
    """A one-time enrolment code for ``user``, to be handed over by ``actor``
    (an administrator); returned once, kept only as a hash. Earlier unused
    codes stop working. Recorded in the user's history."""
    now = timezone.now()
    for token in _usable(user).filter(kind=EnrolmentToken.Kind.CODE):
        token.revoked_at = now
        token.save(update_fields=["revoked_at"])
    code = _random_code()
    EnrolmentToken.objects.create(
        user=user,
        kind=EnrolmentToken.Kind.CODE,
        token_hash=_digest(code),
        created_by=actor,
        expires_at=now + timedelta(hours=code_hours()),
    )
    with audit_context(actor=actor, reason=reasons.enrolment_code_handed_out(reason=reason)):
        user.save()
    return code


def code_try(*, user, code, request):
    """Check an enrolment code typed by ``user``; on success the session may
    set up an app. Returns "ok", "wrong" or "wait" (too many wrong codes)."""
    from .services import sign_in_event_record

    since = timezone.now() - CODE_WINDOW
    failures = SignInEvent.objects.filter(
        user=user, kind=SignInEvent.Kind.FAILED, method="enrolment_code", at__gte=since
    ).count()
    if failures >= CODE_FAILURES:
        return "wait"
    token = _usable_by_hash(EnrolmentToken.Kind.CODE, _digest(code or ""))
    if token is not None and token.user_id == user.pk and token_use(token=token, session=request.session):
        return "ok"
    sign_in_event_record(
        kind="failed", request=request, user=user, method="enrolment_code", detail="wrong enrolment code"
    )
    return "wrong"


# ----------------------------------------------------------------------------
# Recovery codes
# ----------------------------------------------------------------------------


@transaction.atomic
def recovery_codes_create(*, user):
    """New recovery codes for ``user`` (earlier ones stop working). Returns
    the codes in clear text, to be shown once."""
    RecoveryCode.objects.filter(user=user).delete()  # credentials, not records: old codes must not work
    codes = [_random_code() for _ in range(RECOVERY_CODES)]
    RecoveryCode.objects.bulk_create([RecoveryCode(user=user, code_hash=_digest(code)) for code in codes])
    log.info("Recovery codes made for user %s.", user.pk)
    return codes


def recovery_codes_left(user):
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


@transaction.atomic
def recovery_code_use(*, user, code):
    """Spend one of ``user``'s recovery codes; True when it was theirs and unused."""
    digest = _digest(code or "")
    for candidate in RecoveryCode.objects.select_for_update().filter(user=user, used_at__isnull=True):
        if constant_time_compare(candidate.code_hash, digest):
            candidate.used_at = timezone.now()
            candidate.save(update_fields=["used_at"])
            log.info("Recovery code used by user %s.", user.pk)
            return True
    return False


# ----------------------------------------------------------------------------
# An administrator's reset
# ----------------------------------------------------------------------------


@transaction.atomic
def two_factor_reset(*, actor, user, reason):
    """Remove ``user``'s authenticator apps, recovery codes and unused
    enrolment permissions, so that they set up a new app (with a new link or
    code) at their next sign-in. Needs a reason; written to the user's history
    with who did it; the user is told by e-mail."""
    if not reason or not reason.strip():
        raise ValueError("A reset of two-step verification needs a reason.")
    devices = TOTPDevice.objects.filter(user=user).delete()[0]
    RecoveryCode.objects.filter(user=user).delete()
    now = timezone.now()
    for token in _usable(user):
        token.revoked_at = now
        token.save(update_fields=["revoked_at"])
    with audit_context(actor=actor, reason=reasons.two_factor_reset(reason=reason.strip())):
        user.save()
    send_account_email(
        user=user, template="two_factor_reset", context={"actor": actor, "reason": reason.strip()}, actor=actor
    )
    log.info("Two-step verification of user %s reset by %s (%d devices).", user.pk, getattr(actor, "pk", None), devices)
    return devices
