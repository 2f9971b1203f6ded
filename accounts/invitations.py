"""Inviting a person: an administrator names them, their organisation and role;
they get an e-mail with an activation link that expires, and set a password
there (or sign in through their organisation's identity provider, which the
page offers when it has one). Only a hash of the link's secret is kept, as for
enrolment links (accounts.enrolment); the link is used once."""

import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from . import audit_reasons as reasons
from .emails import send_account_email
from .enrolment import _digest, _usable_by_hash
from .history import audit_context
from .models import EnrolmentToken, Membership, Organisation, User
from .permissions import can_manage_people
from .services import membership_create, user_create


def invitation_days():
    return getattr(settings, "INVITATION_DAYS", 7)


@transaction.atomic
def person_invite(*, actor, email: str, full_name: str, title: str, organisation: Organisation, role) -> User:
    """Create the person's account (no password yet) with one membership and
    e-mail them an activation link, queued in this transaction."""
    if not can_manage_people(actor):
        raise PermissionDenied(_("Only administrators invite people."))
    email = (email or "").strip().lower()
    errors = {}
    if User.objects.filter(email__iexact=email).exists():
        errors["email"] = _("%(email)s already has an account: give them a role on their page instead.") % {
            "email": email
        }
    if not full_name.strip():
        errors["full_name"] = _("Write the person's name.")
    if errors:
        raise ValidationError(errors)
    user = user_create(
        actor=actor, email=email, full_name=full_name.strip(), title=title.strip(), reason=reasons.PERSON_INVITED
    )
    membership_create(actor=actor, user=user, organisation=organisation, role=role, reason=reasons.PERSON_INVITED)
    secret = secrets.token_urlsafe(32)
    token = EnrolmentToken.objects.create(
        user=user,
        kind=EnrolmentToken.Kind.INVITATION,
        token_hash=_digest(secret),
        created_by=actor,
        expires_at=timezone.now() + timedelta(days=invitation_days()),
    )
    url = settings.SITE_URL.rstrip("/") + reverse("accounts:invitation", args=[secret])
    send_account_email(
        user=user,
        template="invitation",
        context={
            "url": url,
            "days": invitation_days(),
            "actor": actor,
            "organisation": organisation,
            "expires_at": token.expires_at,
        },
        actor=actor,
    )
    return user


def invitation_find(secret):
    """The usable invitation for ``secret``, or None (unknown, used, revoked or expired)."""
    if not secret or len(secret) > 100:
        return None
    return _usable_by_hash(EnrolmentToken.Kind.INVITATION, _digest(secret))


@transaction.atomic
def invitation_accept(*, token: EnrolmentToken, password: str) -> User:
    """Set the invited person's password and spend the link (once)."""
    token = EnrolmentToken.objects.select_for_update().select_related("user").get(pk=token.pk)
    if token.used_at is not None or token.revoked_at is not None or token.expires_at <= timezone.now():
        raise ValidationError(_("The link has expired or has been used. Ask your administrator for a new invitation."))
    user = token.user
    if not user.is_active:
        raise ValidationError(_("The account has been deactivated."))
    validate_password(password, user)
    token.used_at = timezone.now()
    token.save(update_fields=["used_at"])
    with audit_context(actor=user, reason=reasons.INVITATION_ACCEPTED):
        user.set_password(password)
        user.save()
    return user


@transaction.atomic
def membership_give(*, actor, user: User, organisation: Organisation, role, reason: str = "") -> Membership:
    if not can_manage_people(actor):
        raise PermissionDenied
    if Membership.objects.active().filter(user=user, organisation=organisation, role=role).exists():
        raise ValidationError({"role": _("%(name)s already holds this role there.") % {"name": user.full_name}})
    return membership_create(
        actor=actor,
        user=user,
        organisation=organisation,
        role=role,
        reason=reason.strip() or reasons.MEMBERSHIP_CREATED,
    )


@transaction.atomic
def membership_close(*, actor, membership: Membership, reason: str) -> Membership:
    from .services import membership_end

    if not can_manage_people(actor):
        raise PermissionDenied
    if not reason.strip():
        raise ValidationError({"reason": _("Say why the role ends.")})
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if not membership.is_active:
        raise ValidationError(_("The role has already ended."))
    return membership_end(actor=actor, membership=membership, reason=reason.strip())


@transaction.atomic
def person_deactivate(*, actor, user: User, reason: str) -> User:
    from .services import user_deactivate

    if not can_manage_people(actor):
        raise PermissionDenied
    if not reason.strip():
        raise ValidationError({"reason": _("Say why the account is deactivated.")})
    if user.pk == actor.pk:
        raise ValidationError({"reason": _("You cannot deactivate your own account.")})
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.is_active:
        raise ValidationError(_("The account is already deactivated."))
    now = timezone.now()
    for token in EnrolmentToken.objects.filter(user=user, used_at=None, revoked_at=None):
        token.revoked_at = now
        token.save(update_fields=["revoked_at"])
    # user_deactivate re-derives the groups (and those of anyone standing in for them).
    return user_deactivate(actor=actor, user=user, reason=reason.strip())
