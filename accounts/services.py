"""Writes on users, organisations and memberships. Each is one transaction,
names its actor and says why; every change leaves history."""

import ipaddress
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from . import audit_reasons as reasons
from . import permissions
from .history import audit_context
from .middleware import client_ip
from .models import Absence, ExternalIdentity, MappingProblem, Membership, Organisation, Role, SignInEvent, User


def _sync_with_substitutes(user):
    """Re-derive ``user``'s groups, and those of whoever stands in for them
    today (who hold ``user``'s roles: a role ended ends theirs too)."""
    permissions.sync_user_groups(user)
    for absence in Absence.objects.current().filter(user=user, grants_given=True).select_related("substitute"):
        permissions.sync_user_groups(absence.substitute)


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
        _sync_with_substitutes(user)
    return user


@transaction.atomic
def membership_create(
    *, actor, user, organisation: Organisation, role, reason="", source=Membership.Source.MANUAL, source_provider=""
) -> Membership:
    """Give ``user`` a role in ``organisation``. A role that does not fit the
    organisation raises ValidationError. ``source``: granted by hand (the
    default) or from an identity provider's claims (``source_provider``)."""
    with audit_context(actor=actor, reason=reason or reasons.MEMBERSHIP_CREATED):
        membership = Membership(
            user=user, organisation=organisation, role=role, source=source, source_provider=source_provider
        )
        membership.full_clean()
        membership.save()
        _sync_with_substitutes(user)
    return membership


@transaction.atomic
def membership_end(*, actor, membership: Membership, reason) -> Membership:
    """End a membership; it is kept, inactive, and access narrows at the next request."""
    with audit_context(actor=actor, reason=reason):
        membership.is_active = False
        membership.save()
        _sync_with_substitutes(membership.user)
    return membership


@transaction.atomic
def membership_reactivate(*, actor, membership: Membership, reason) -> Membership:
    with audit_context(actor=actor, reason=reason):
        membership.is_active = True
        membership.full_clean()
        membership.save()
        _sync_with_substitutes(membership.user)
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


def last_login_set(*, user) -> None:
    """Note when the user last signed in, without a history row: it would have
    nothing changed in it (last_login is not in the user's history, see
    accounts.models.User), no who and no why. The sign-in itself is recorded
    as a SignInEvent, in its own chain."""
    user.last_login = timezone.now()
    user.save_without_historical_record(update_fields=["last_login"])


def sign_in_event_record(*, kind, request=None, user=None, email="", method="", detail="") -> SignInEvent:
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
        kind=SignInEvent.Kind(kind),
        user=user,
        email=(email or "")[:254],
        ip=ip,
        user_agent=agent[:500],
        method=(method or "")[:40],
        detail=(detail or "")[:200],
    )
    event.save()
    return event


# ----------------------------------------------------------------------------
# Sign-in through an organisation's identity provider
# ----------------------------------------------------------------------------


class SignInRefused(Exception):
    """The provider vouched for someone we will not sign in (``reason`` is a
    short code for the audit trail)."""

    def __init__(self, reason, email=""):
        super().__init__(reason)
        self.reason = reason
        self.email = email


@dataclass
class ProviderSignIn:
    user: User
    created: bool = False
    problems: list = field(default_factory=list)


@transaction.atomic
def provider_sign_in(*, provider, claims) -> ProviderSignIn:
    """The user a provider's verified claims stand for, brought up to date.

    The person is found by their subject at the provider (linked at their
    first sign-in); the first time, by their e-mail address, which must be in
    one of the provider's domains, and created (just in time) when there is
    no account with it. Then the memberships the provider's rules give are
    brought up to date: those it gave earlier and no longer gives are ended;
    memberships granted by hand are never touched. A rule naming an unknown
    organisation or a role that does not fit it is a mapping problem
    (recorded for administrators); the person is signed in without it."""
    subject = str(claims.get(provider.subject_claim) or "")
    email = str(claims.get(provider.email_claim) or "").strip().lower()
    if not subject:
        raise SignInRefused("no subject claim", email)
    identity = ExternalIdentity.objects.select_related("user").filter(provider=provider.key, subject=subject).first()
    created = False
    if identity is not None:
        user = identity.user
    else:
        if not email or not provider.email_domain_allowed(email):
            raise SignInRefused("e-mail address outside the provider's domains", email)
        user = User.objects.filter(email__iexact=email).first()
        reason = reasons.first_sign_in_through(provider=provider.name)
        if user is None:
            full_name = str(claims.get("name") or "").strip() or email
            user = user_create(actor=None, email=email, full_name=full_name[:200], reason=reason)
            created = True
        with audit_context(reason=reason):
            ExternalIdentity.objects.create(provider=provider.key, subject=subject, user=user)
    if not user.is_active:
        raise SignInRefused("account deactivated", email or user.email)
    problems = _provider_memberships_sync(provider=provider, user=user, claims=claims, email=email or user.email)
    return ProviderSignIn(user=user, created=created, problems=problems)


def _provider_memberships_sync(*, provider, user, claims, email):
    from .providers import organisation as find_organisation

    wanted, problems = {}, []
    for rule in provider.matching_rules(claims, email):
        organisation = find_organisation(rule.organisation)
        if organisation is None:
            problems.append(
                (rule, _("No active organisation “%(organisation)s”.") % {"organisation": rule.organisation})
            )
        elif rule.role not in Role.values:
            problems.append((rule, _("No role “%(role)s”.") % {"role": rule.role}))
        else:
            wanted.setdefault((organisation.pk, rule.role), (organisation, rule))

    reason_end = reasons.membership_ended_at_sign_in(provider=provider.name)
    reason_give = reasons.membership_given_at_sign_in(provider=provider.name)
    active = list(Membership.objects.select_for_update().filter(user=user, is_active=True))
    for membership in active:
        is_ours = membership.source == Membership.Source.PROVIDER and membership.source_provider == provider.key
        if is_ours and (membership.organisation_id, membership.role) not in wanted:
            membership_end(actor=None, membership=membership, reason=reason_end)
    held = {(m.organisation_id, m.role) for m in active if m.is_active}
    for key, (organisation, rule) in wanted.items():
        if key in held:
            continue  # already held: by hand, or from this or another provider
        try:
            membership_create(
                actor=None,
                user=user,
                organisation=organisation,
                role=rule.role,
                reason=reason_give,
                source=Membership.Source.PROVIDER,
                source_provider=provider.key,
            )
        except ValidationError as error:
            problems.append((rule, " ".join(error.messages)))
    for rule, message in problems:
        MappingProblem.objects.create(provider=provider.key, user=user, rule=str(rule)[:300], message=message[:500])
    return problems


@transaction.atomic
def organisation_change(
    *, actor, organisation: Organisation, name: str, deciding_body: str, is_active: bool, partner_type: str = ""
) -> Organisation:
    """An administrator changes an organisation's name, default deciding body,
    active state or (for a partner) its kind. The municipality code never changes."""
    if not permissions.can_manage_people(actor):
        raise PermissionDenied
    organisation = Organisation.objects.select_for_update().get(pk=organisation.pk)
    organisation.name = name.strip()
    organisation.deciding_body = deciding_body.strip()
    organisation.is_active = is_active
    if organisation.is_partner:
        organisation.partner_type = partner_type
    if not organisation.name:
        raise ValidationError({"name": _("Give the organisation a name.")})
    return organisation_update(actor=actor, organisation=organisation)


@transaction.atomic
def partner_create(*, actor, name: str, partner_type: str) -> Organisation:
    """Add a partner in the dialogue: it takes part in dialogue meetings, never signs."""
    if actor is not None and not permissions.can_manage_people(actor):  # (None: seed_demo)
        raise PermissionDenied
    if not name.strip():
        raise ValidationError({"name": _("Give the organisation a name.")})
    if Organisation.objects.filter(kind=Organisation.Kind.PARTNER, name__iexact=name.strip()).exists():
        raise ValidationError({"name": _("%(name)s is already a partner.") % {"name": name.strip()}})
    with audit_context(actor=actor, reason=reasons.PARTNER_ADDED if actor is not None else reasons.DEMO_DATA):
        organisation = Organisation(kind=Organisation.Kind.PARTNER, name=name.strip(), partner_type=partner_type)
        organisation.full_clean()
        organisation.save()
    return organisation


# ---------------------------------------------------------------------------
# Absences and substitutes
# ---------------------------------------------------------------------------


def _refuse_absence(field, message):
    raise ValidationError({field: message})


@transaction.atomic
def absence_record(*, actor, user: User, starts_on, ends_on, substitute: User) -> Absence:
    """Record that ``user`` is away from ``starts_on`` to ``ends_on`` (both
    included) and ``substitute`` takes their steps meanwhile. Refused (a
    ValidationError naming the field): by anyone but the person, an
    administrator or a coordinator; an end before the start; a substitute who
    cannot hold the person's step roles (another organisation, deactivated);
    an absence overlapping another of the person's; and chains, i.e. a
    substitute who is away themselves then, or a person who is someone's
    substitute then."""
    if not permissions.can_record_absence_for(actor, user):
        raise PermissionDenied
    if ends_on < starts_on:
        _refuse_absence("ends_on", _("The absence cannot end before it starts."))
    refusal = permissions.substitute_refusal(absent=user, substitute=substitute)
    if refusal:
        _refuse_absence("substitute", refusal)
    # Lock the people involved, so two absences recorded at once cannot form a chain.
    list(User.objects.select_for_update().filter(pk__in=[user.pk, substitute.pk]).order_by("pk"))
    overlapping = Absence.objects.overlapping(starts_on, ends_on)
    clash = overlapping.filter(user=user).first()
    if clash is not None:
        _refuse_absence(
            "starts_on",
            _("%(name)s is already away %(from)s–%(to)s; end that absence first or choose other days.")
            % {"name": user.full_name, "from": clash.starts_on, "to": clash.ends_on},
        )
    clash = overlapping.filter(user=substitute).first()
    if clash is not None:
        _refuse_absence(
            "substitute",
            _("%(name)s is away %(from)s–%(to)s themselves and cannot be a substitute then.")
            % {"name": substitute.full_name, "from": clash.starts_on, "to": clash.ends_on},
        )
    clash = overlapping.filter(substitute=user).select_related("user").first()
    if clash is not None:
        _refuse_absence(
            "starts_on",
            _("%(name)s is the substitute of %(other)s %(from)s–%(to)s; that absence needs another substitute first.")
            % {"name": user.full_name, "other": clash.user.full_name, "from": clash.starts_on, "to": clash.ends_on},
        )
    with audit_context(actor=actor, reason=reasons.ABSENCE_RECORDED):
        absence = Absence(user=user, substitute=substitute, starts_on=starts_on, ends_on=ends_on)
        absence.full_clean()
        absence.save()
    sync_absence_grants()
    absence.refresh_from_db()
    return absence


@transaction.atomic
def absence_end(*, actor, absence) -> Absence:
    """End an absence now (before its last day, or before it began): the
    substitute's roles end at once."""
    from django.utils import timezone

    absence = Absence.objects.select_for_update().get(pk=absence.pk)
    if not permissions.can_record_absence_for(actor, absence.user):
        raise PermissionDenied
    if absence.ended_early_at is not None or absence.ends_on < timezone.localdate():
        raise ValidationError(_("This absence is already over."))
    with audit_context(actor=actor, reason=reasons.ABSENCE_ENDED_EARLY):
        absence.ended_early_at = timezone.now()
        absence.save()
    sync_absence_grants()
    absence.refresh_from_db()
    return absence


def sync_absence_grants(day=None):
    """The scheduled job: give substitutes the roles of the absences that have
    begun, and take back those of the absences that have ended, and record
    each on the absence (``grants_given``). Returns how many changed."""
    from django.utils import timezone

    day = day or timezone.localdate()
    lasting = Q(ended_early_at__isnull=True, starts_on__lte=day, ends_on__gte=day)
    changed = 0
    stale = Absence.objects.filter((lasting & Q(grants_given=False)) | (~lasting & Q(grants_given=True)))
    for pk in stale.values_list("pk", flat=True):
        with transaction.atomic():
            absence = Absence.objects.select_for_update().select_related("substitute").get(pk=pk)
            now_lasting = absence.lasts_on(day)
            if absence.grants_given == now_lasting:
                continue
            with audit_context(reason=reasons.ABSENCE_BEGUN if now_lasting else reasons.ABSENCE_OVER):
                absence.grants_given = now_lasting
                absence.save()
                permissions.sync_user_groups(absence.substitute)
            changed += 1
    return changed
