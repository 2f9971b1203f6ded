"""Password spraying: one client address trying one password against many accounts.

django-axes (config/settings/base.py) counts failures per e-mail address and
client address together, so that a municipal office behind one public
address is never locked out because one person mistyped. That leaves the
spraying pattern open: one password ("Sommar2026!") tried once against each
of hundreds of accounts never reaches any account's limit.

So failed sign-ins are also counted per client address and *password*: when
the same password has failed from one address for ``LOGIN_SPRAY_LIMIT``
different e-mail addresses (default 5) within the lock-out pause
(``LOGIN_LOCKOUT_MINUTES``), that password is refused from that address for
any account until the pause has passed since the last counted failure, before
any password is checked, with the lock-out page. Colleagues behind the same
address sign in as usual with their own passwords; the same password from
elsewhere is not affected. Attempts during the pause do not extend it.

The password is never stored: only an HMAC (keyed with SECRET_KEY) of the
address and the password, in ``FailedPasswordAttempt`` rows that are deleted
once older than the pause. Like axes, this acts only when ``AXES_ENABLED``.
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Max
from django.utils import timezone
from django.utils.crypto import salted_hmac

from .middleware import client_ip
from .models import FailedPasswordAttempt

ATTEMPT_ATTRIBUTE = "samverkan_password_attempt"
LOCKED_UNTIL_ATTRIBUTE = "samverkan_locked_until"


def _active():
    return getattr(settings, "AXES_ENABLED", True)


def _pause():
    return settings.AXES_COOLOFF_TIME


def fingerprint(ip, password):
    return salted_hmac("samverkan.accounts.spraying", f"{ip}\0{password}", algorithm="sha256").hexdigest()


def locked_until(ip, print_):
    """When the pause of this password from this address ends, or None if it is not paused."""
    since = timezone.now() - _pause()
    recent = FailedPasswordAttempt.objects.filter(ip=ip, fingerprint=print_, at__gte=since)
    if recent.values("username").distinct().count() < settings.LOGIN_SPRAY_LIMIT:
        return None
    return recent.aggregate(last=Max("at"))["last"] + _pause()


class PasswordSprayBackend:
    """An authentication backend that authenticates no one: placed after
    axes's and before the password check, it refuses a paused password from
    its address (PermissionDenied stops Django's authentication, and
    AxesMiddleware shows the lock-out page)."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None or password is None or not _active():
            return None
        ip = client_ip(request)
        if not ip:
            return None
        print_ = fingerprint(ip, password)
        setattr(request, ATTEMPT_ATTRIBUTE, (ip, print_))
        until = locked_until(ip, print_)
        if until is not None:
            setattr(request, LOCKED_UNTIL_ATTRIBUTE, until)
            request.axes_locked_out = True  # the lock-out page, and axes records no failure for it
            raise PermissionDenied
        return None

    # No get_user(): it never signs anyone in, so no session may name it as its backend.


def record_failure(request, username):
    """Count a failed sign-in (called when Django reports one)."""
    attempt = getattr(request, ATTEMPT_ATTRIBUTE, None) if request is not None else None
    if attempt is None or getattr(request, LOCKED_UNTIL_ATTRIBUTE, None) is not None or not _active():
        return
    now = timezone.now()
    FailedPasswordAttempt.objects.filter(at__lt=now - _pause()).delete()
    ip, print_ = attempt
    FailedPasswordAttempt.objects.create(ip=ip, fingerprint=print_, username=(username or "")[:254], at=now)


def paused_for_spraying(request):
    """The end of the spraying pause that refused this request, or None."""
    return getattr(request, LOCKED_UNTIL_ATTRIBUTE, None)
