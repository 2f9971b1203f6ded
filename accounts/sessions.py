"""Where a user is signed in: one ``UserSession`` per signed-in session, so
that the user's own page can list their sessions and end the others.

A row is made at sign-in (the ``user_logged_in`` receiver in accounts.apps),
follows the session when its key changes (after the two-step code), and is
marked ended at sign-out or when the user ends it from elsewhere. Ending a
session deletes Django's session row (that is what signs the browser out);
the ``UserSession`` row stays, with when and why it ended, and a sign-in event
"session ended" is written to the audit trail."""

from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from .middleware import client_ip
from .models import SignInEvent, UserSession

SIGNED_OUT, ENDED_BY_USER, REPLACED = "signed_out", "ended_by_user", "replaced"


def session_started(request, user, method):
    """Record the new signed-in session of ``request``."""
    key = request.session.session_key
    if not key:
        request.session.save()
        key = request.session.session_key
    agent = request.META.get("HTTP_USER_AGENT", "")[:500]
    UserSession.objects.update_or_create(
        session_key=key,
        defaults={
            "user": user,
            "method": method,
            "ip": _valid_ip(client_ip(request)),
            "user_agent": agent,
            "started_at": timezone.now(),
            "ended_at": None,
            "end_reason": "",
        },
    )


def session_rekeyed(old_key, new_key):
    """The session got a new key (Django's cycle_key): the record follows it."""
    if old_key and new_key and old_key != new_key:
        UserSession.objects.filter(session_key=old_key, ended_at__isnull=True).update(session_key=new_key)


def session_signed_out(request):
    key = getattr(request, "session", None) and request.session.session_key
    if key:
        UserSession.objects.filter(session_key=key, ended_at__isnull=True).update(
            ended_at=timezone.now(), end_reason=SIGNED_OUT
        )


def active_sessions(user):
    """The user's sessions that are still signed in (Django's session exists and has not expired)."""
    open_rows = list(UserSession.objects.filter(user=user, ended_at__isnull=True).order_by("-started_at"))
    alive = set(
        Session.objects.filter(
            session_key__in=[row.session_key for row in open_rows], expire_date__gt=timezone.now()
        ).values_list("session_key", flat=True)
    )
    return [row for row in open_rows if row.session_key in alive]


@transaction.atomic
def sessions_end(*, user, request, session_ids=None):
    """End ``user``'s other sessions (those with ``session_ids``, or all other
    ones): their browsers are signed out at their next request. The current
    session is never ended here. Returns how many were ended."""
    from .services import sign_in_event_record

    current = request.session.session_key
    rows = UserSession.objects.select_for_update().filter(user=user, ended_at__isnull=True).exclude(session_key=current)
    if session_ids is not None:
        rows = rows.filter(pk__in=session_ids)
    ended = 0
    for row in rows:
        Session.objects.filter(session_key=row.session_key).delete()
        row.ended_at = timezone.now()
        row.end_reason = ENDED_BY_USER
        row.save(update_fields=["ended_at", "end_reason"])
        sign_in_event_record(
            kind=SignInEvent.Kind.ENDED,
            request=request,
            user=user,
            method=row.method,
            detail=f"session started {timezone.localtime(row.started_at):%Y-%m-%d %H:%M} from {row.ip or '?'}",
        )
        ended += 1
    return ended


def _valid_ip(value):
    import ipaddress

    try:
        ipaddress.ip_address(value or "")
    except ValueError:
        return None
    return value
