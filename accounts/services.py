"""Writes on users, organisations and memberships. Each is one transaction,
names its actor and says why; every change leaves history."""

import ipaddress

from django.db import transaction

from . import audit_reasons as reasons
from . import permissions
from .history import audit_context
from .middleware import client_ip
from .models import Membership, Organisation, SignInEvent, User


@transaction.atomic
def user_create(*, actor, email, full_name, title="", password=None, reason="") -> User:
    with audit_context(actor=actor, reason=reason or reasons.USER_CREATED):
        user = User(email=email, full_name=full_name, title=title)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.full_clean()
        user.save()
    return user


@transaction.atomic
def user_deactivate(*, actor, user, reason) -> User:
    """Deactivate a user: they cannot sign in from their next request on."""
    with audit_context(actor=actor, reason=reason):
        user.is_active = False
        user.save()
        permissions.sync_user_groups(user)
    return user


@transaction.atomic
def membership_create(*, actor, user, organisation: Organisation, role, reason="") -> Membership:
    """Give ``user`` a role in ``organisation``. A role that does not fit the
    organisation raises ValidationError."""
    with audit_context(actor=actor, reason=reason or reasons.MEMBERSHIP_CREATED):
        membership = Membership(user=user, organisation=organisation, role=role)
        membership.full_clean()
        membership.save()
        permissions.sync_user_groups(user)
    return membership


@transaction.atomic
def membership_end(*, actor, membership: Membership, reason) -> Membership:
    """End a membership; it is kept, inactive, and access narrows at the next request."""
    with audit_context(actor=actor, reason=reason):
        membership.is_active = False
        membership.save()
        permissions.sync_user_groups(membership.user)
    return membership


@transaction.atomic
def membership_reactivate(*, actor, membership: Membership, reason) -> Membership:
    with audit_context(actor=actor, reason=reason):
        membership.is_active = True
        membership.full_clean()
        membership.save()
        permissions.sync_user_groups(membership.user)
    return membership


@transaction.atomic
def user_update(*, actor, user: User, reason="") -> User:
    """Save a user edited in the administration and re-derive their permissions
    (deactivation ends their access at the next request)."""
    with audit_context(actor=actor, reason=reason or reasons.USER_CHANGED_IN_ADMINISTRATION):
        user.full_clean()
        user.save()
        permissions.sync_user_groups(user)
    return user


@transaction.atomic
def organisation_update(*, actor, organisation: Organisation, reason="") -> Organisation:
    """Save an organisation edited in the administration. Its members' grants are
    derived again: a deactivated organisation's memberships no longer count."""
    with audit_context(actor=actor, reason=reason or reasons.ORGANISATION_CHANGED_IN_ADMINISTRATION):
        organisation.full_clean()
        organisation.save()
        for user in User.objects.filter(memberships__organisation=organisation).distinct():
            permissions.sync_user_groups(user)
    return organisation


def sign_in_event_record(*, kind, request=None, user=None, email="") -> SignInEvent:
    """Record a sign-in, sign-out or failed sign-in (called by the receivers of
    Django's auth signals, see accounts.apps). Never given the password.
    A failed sign-in is linked to the account whose e-mail was tried, if any."""
    if user is not None and not getattr(user, "pk", None):
        user = None
    if user is None and email:
        user = User.objects.filter(email__iexact=email.strip()).first()
    if user is not None and not email:
        email = user.email
    ip = client_ip(request) if request is not None else None
    try:
        ipaddress.ip_address(ip or "")
    except ValueError:
        ip = None
    agent = request.META.get("HTTP_USER_AGENT", "") if request is not None else ""
    event = SignInEvent(
        kind=SignInEvent.Kind(kind), user=user, email=(email or "")[:254], ip=ip, user_agent=agent[:500]
    )
    event.save()
    return event
