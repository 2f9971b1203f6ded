"""Writes on integration tokens: created and revoked by administrators, each
in one transaction, naming its actor and saying why."""

import hashlib
import secrets
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import audit_reasons as reasons
from accounts import permissions
from accounts.history import audit_context
from accounts.models import Membership
from accounts.services import membership_create, user_create, user_deactivate

from .models import TOKEN_ROLES, IntegrationToken

SCHEME = "svk"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def split_key(key: str):
    """(prefix, key) of a presented token, or None when it is not shaped like one."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != SCHEME or len(parts[1]) != 12 or not parts[2]:
        return None
    return parts[1]


@dataclass
class CreatedToken:
    token: IntegrationToken
    key: str  # shown once, never stored


def token_errors(*, organisation, role, expires_at, name) -> dict:
    """What is wrong with a token's role, expiry and name: {field: message}, empty when nothing."""
    errors = {}
    if role not in TOKEN_ROLES:
        errors["role"] = _("An integration token cannot have this role.")
    elif organisation is not None:
        try:  # the role must fit the organisation, as for a person's membership
            Membership(organisation=organisation, role=role).clean()
        except ValidationError as error:
            errors.update({field: messages[0] for field, messages in error.message_dict.items()})
    if expires_at is None or expires_at <= timezone.now():
        errors["expires_at"] = _("The expiry must be in the future.")
    if not (name or "").strip():
        errors["name"] = _("Give the token a name.")
    return errors


@transaction.atomic
def token_create(*, actor, organisation, role, name, expires_at) -> CreatedToken:
    """Create a token for ``organisation`` with ``role``, acting through an
    integration account of its own. Only administrators may."""
    if not permissions.can_administer(actor):
        raise PermissionDenied(_("Only administrators may create integration tokens."))
    errors = token_errors(organisation=organisation, role=role, expires_at=expires_at, name=name)
    if errors:
        raise ValidationError(errors)
    prefix = secrets.token_hex(6)
    key = f"{SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
    account = user_create(
        actor=actor,
        email=f"integration-{prefix}@tokens.invalid",
        full_name=_("Integration: %(name)s") % {"name": name.strip()},
        reason=reasons.INTEGRATION_TOKEN_CREATED,
    )
    membership_create(
        actor=actor, user=account, organisation=organisation, role=role, reason=reasons.INTEGRATION_TOKEN_CREATED
    )
    with audit_context(actor=actor, reason=reasons.INTEGRATION_TOKEN_CREATED):
        token = IntegrationToken(
            account=account,
            organisation=organisation,
            role=role,
            name=name.strip(),
            prefix=prefix,
            key_hash=hash_key(key),
            expires_at=expires_at,
            created_by=actor,
        )
        token.full_clean()
        token.save()
    return CreatedToken(token=token, key=key)


@transaction.atomic
def token_revoke(*, actor, token: IntegrationToken, reason="") -> IntegrationToken:
    """Revoke a token: it is refused from the next request on, and its account is ended."""
    if not permissions.can_administer(actor):
        raise PermissionDenied(_("Only administrators may revoke integration tokens."))
    token = IntegrationToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is not None:
        return token
    reason = reason or reasons.INTEGRATION_TOKEN_REVOKED
    with audit_context(actor=actor, reason=reason):
        token.revoked_at = timezone.now()
        token.revoked_by = actor
        token.save()
    user_deactivate(actor=actor, user=token.account, reason=reason)
    return token
