"""Every permission rule of Samverkan, and the only code that grants or revokes
django-guardian permissions.

The rules are a table: a role may perform a set of actions, either on its own
municipality only (municipal roles) or on every municipality (region roles).
Memberships are the source of truth. Groups and guardian permissions are
derived from them by ``sync_user_groups`` so that viewflow's task queue, which
asks guardian, agrees with ``can_act_for``:

- each municipal role has one group per municipality, holding object
  permissions on that municipality's Organisation row only (never one
  permission per agreement, never a model-wide permission);
- each region role has one group holding model-wide permissions.

Checks read the user's memberships once per request (cached on the user
object), so a membership change takes effect at the user's next request.
"""

from django.contrib.auth.models import Group, Permission
from django.db import models
from django.utils.translation import gettext_lazy as _
from guardian.shortcuts import assign_perm

from .models import Membership, Organisation, Role


class Action(models.TextChoices):
    VIEW = "view", _("see the agreements")
    DRAFT = "draft", _("draft and drive agreements")
    WITHDRAW = "withdraw", _("withdraw agreements")
    REVIEW = "review", _("review drafts")
    DECIDE_REGION = "decide_region", _("record the region's decision")
    DECIDE_MUNICIPALITY = "decide_municipality", _("record the municipality's decision")
    SIGN_REGION = "sign_region", _("sign for the region")
    SIGN_MUNICIPALITY = "sign_municipality", _("sign for the municipality")
    REPORT_FOLLOW_UP = "report_follow_up", _("write follow-ups")
    REVIEW_FOLLOW_UP = "review_follow_up", _("review follow-ups")
    MANAGE_MEETINGS = "manage_meetings", _("record dialogue meetings")
    READ_AUDIT = "read_audit", _("read and export the audit log")
    ADMINISTER = "administer", _("manage users and organisations")


# role -> actions. Region roles act on every municipality, municipal roles on their own.
ROLE_ACTIONS = {
    Role.COORDINATOR: frozenset(
        {
            Action.VIEW,
            Action.DRAFT,
            Action.WITHDRAW,
            Action.DECIDE_REGION,
            Action.SIGN_REGION,
            Action.REVIEW_FOLLOW_UP,
            Action.MANAGE_MEETINGS,
            Action.READ_AUDIT,
        }
    ),
    Role.AUDITOR: frozenset({Action.VIEW, Action.READ_AUDIT}),
    Role.ADMINISTRATOR: frozenset({Action.ADMINISTER}),
    Role.CULTURAL_HEAD: frozenset(
        {
            Action.VIEW,
            Action.REVIEW,
            Action.DECIDE_MUNICIPALITY,
            Action.SIGN_MUNICIPALITY,
            Action.REPORT_FOLLOW_UP,
        }
    ),
    Role.OFFICIAL: frozenset({Action.VIEW, Action.DECIDE_MUNICIPALITY, Action.REPORT_FOLLOW_UP}),
}
REGION_WIDE_ROLES = frozenset({Role.COORDINATOR, Role.AUDITOR, Role.ADMINISTRATOR})

# action -> the guardian permission (on accounts.Organisation) that stands for it.
# Viewflow's task queue and `.Permission(...)` checks use these names.
ACTION_PERMISSIONS = {
    Action.VIEW: "view_municipality_cases",
    Action.REVIEW: "review_agreement",
    Action.DECIDE_MUNICIPALITY: "record_municipal_decision",
    Action.SIGN_MUNICIPALITY: "sign_for_municipality",
    Action.REPORT_FOLLOW_UP: "report_follow_up",
    Action.DRAFT: "coordinate_agreements",
    Action.WITHDRAW: "coordinate_agreements",
    Action.DECIDE_REGION: "record_region_decision",
    Action.SIGN_REGION: "sign_for_region",
    Action.REVIEW_FOLLOW_UP: "review_follow_up",
}


def perm_name(action):
    """The full permission name ("accounts.review_agreement") for a workflow step."""
    return f"accounts.{ACTION_PERMISSIONS[Action(action)]}"


# The Django admin: administrators may manage users, organisations and memberships.
ADMIN_MODEL_PERMISSIONS = [
    f"{verb}_{model}" for model in ("user", "organisation", "membership") for verb in ("view", "add", "change")
]


# ----------------------------------------------------------------------------
# Checks
# ----------------------------------------------------------------------------


def _active_memberships(user):
    """The user's active memberships, read once per user object (per request)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return ()
    cached = getattr(user, "_samverkan_memberships", None)
    if cached is None:
        cached = tuple(Membership.objects.active().filter(user=user).select_related("organisation"))
        user._samverkan_memberships = cached
    return cached


def forget_cached_memberships(user):
    user.__dict__.pop("_samverkan_memberships", None)


def roles_of(user):
    return {membership.role for membership in _active_memberships(user)}


def can_act_for(user, municipality, action):
    """May ``user`` perform ``action`` on ``municipality``'s agreements?"""
    action = Action(action)
    for membership in _active_memberships(user):
        if action not in ROLE_ACTIONS[membership.role]:
            continue
        if membership.role in REGION_WIDE_ROLES:
            return True
        if municipality is not None and membership.organisation_id == municipality.pk:
            return True
    return False


def can_do_anywhere(user, action):
    """May ``user`` perform ``action`` on at least one municipality?"""
    action = Action(action)
    return any(action in ROLE_ACTIONS[m.role] for m in _active_memberships(user))


def sees_all_municipalities(user):
    return any(m.role in REGION_WIDE_ROLES and Action.VIEW in ROLE_ACTIONS[m.role] for m in _active_memberships(user))


def visible_municipality_ids(user):
    """Ids of the municipalities whose agreements ``user`` may see; None means all."""
    if sees_all_municipalities(user):
        return None
    return {
        m.organisation_id
        for m in _active_memberships(user)
        if Action.VIEW in ROLE_ACTIONS[m.role] and m.role not in REGION_WIDE_ROLES
    }


def scope_by_municipality(queryset, user, field="municipality"):
    """Filter any queryset down to what ``user`` may see, by its municipality field."""
    ids = visible_municipality_ids(user)
    if ids is None:
        return queryset
    return queryset.filter(**{f"{field}__in": ids})


def can_view_agreement(user, agreement):
    return can_act_for(user, agreement.municipality, Action.VIEW)


def can_administer(user):
    return can_do_anywhere(user, Action.ADMINISTER)


def can_read_audit(user):
    return can_do_anywhere(user, Action.READ_AUDIT)


def can_manage_outgoing_email(user):
    """Administrators see the e-mail outbox (what failed, and why) and send
    failed messages again."""
    return can_administer(user)


def is_read_only(user):
    """Auditors and others who may see but never change agreements."""
    return not any(ROLE_ACTIONS[m.role] - {Action.VIEW, Action.READ_AUDIT} for m in _active_memberships(user))


# ----------------------------------------------------------------------------
# Grants: the only code that calls guardian's assign/remove.
# ----------------------------------------------------------------------------

GROUP_PREFIX = "samverkan:"


def _region_group_name(role):
    return f"{GROUP_PREFIX}region:{role}"


def _municipality_group_name(role, municipality):
    return f"{GROUP_PREFIX}kommun:{municipality.kommunkod}:{role}"


def _permission(codename, app_label="accounts"):
    return Permission.objects.get(codename=codename, content_type__app_label=app_label)


def _role_permissions(role):
    return sorted({ACTION_PERMISSIONS[a] for a in ROLE_ACTIONS[role] if a in ACTION_PERMISSIONS})


def region_group(role):
    """The group of a region-wide role, with its model-wide permissions."""
    group, created = Group.objects.get_or_create(name=_region_group_name(role))
    if created:
        codenames = ADMIN_MODEL_PERMISSIONS if role == Role.ADMINISTRATOR else _role_permissions(role)
        group.permissions.set([_permission(c) for c in codenames])
    return group


def municipality_group(role, municipality):
    """The group of a municipal role in one municipality, with object permissions
    on that municipality's row only."""
    group, created = Group.objects.get_or_create(name=_municipality_group_name(role, municipality))
    if created:
        for codename in _role_permissions(role):
            assign_perm(f"accounts.{codename}", group, municipality)
    return group


def group_for(membership):
    if membership.role in REGION_WIDE_ROLES:
        return region_group(membership.role)
    return municipality_group(membership.role, membership.organisation)


def sync_user_groups(user):
    """Make the user's Samverkan groups exactly those their active memberships give."""
    forget_cached_memberships(user)
    wanted = {group_for(m).pk for m in _active_memberships(user)}
    current = set(user.groups.filter(name__startswith=GROUP_PREFIX).values_list("pk", flat=True))
    if current - wanted:
        user.groups.remove(*(current - wanted))
    if wanted - current:
        user.groups.add(*(wanted - current))
    is_admin = can_administer(user)
    if user.is_staff != is_admin and not user.is_superuser:
        user.is_staff = is_admin
        user.save(update_fields=["is_staff"])
    forget_cached_memberships(user)
    for attr in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(attr, None)


def organisations_for_role(role):
    kind = Organisation.Kind.REGION if role in REGION_WIDE_ROLES else Organisation.Kind.MUNICIPALITY
    return Organisation.objects.filter(kind=kind, is_active=True)


def users_who_can(action, municipality):
    """The active users who may perform ``action`` on ``municipality`` (for e-mail)."""
    from .models import User

    action = Action(action)
    roles = [role for role, actions in ROLE_ACTIONS.items() if action in actions]
    region_roles = [r for r in roles if r in REGION_WIDE_ROLES]
    municipal_roles = [r for r in roles if r not in REGION_WIDE_ROLES]
    memberships = Membership.objects.active().filter(
        models.Q(role__in=region_roles) | models.Q(role__in=municipal_roles, organisation=municipality)
    )
    return User.objects.filter(is_active=True, memberships__in=memberships).distinct().order_by("full_name")


def users_who_can_each(pairs):
    """``users_who_can`` for many (action, municipality id) pairs at once, in
    one query: {(action, municipality id): [active users, by name]}. The
    recipients of reminders and escalations come from here (a substitute
    standing in for an absent person belongs here too)."""
    pairs = {(Action(action), municipality_id) for action, municipality_id in pairs}
    found = {pair: [] for pair in pairs}
    if not pairs:
        return found
    actions = {action for action, _municipality_id in pairs}
    roles = [role for role, role_actions in ROLE_ACTIONS.items() if role_actions & actions]
    memberships = (
        Membership.objects.active()
        .filter(
            models.Q(role__in=[r for r in roles if r in REGION_WIDE_ROLES])
            | models.Q(
                role__in=[r for r in roles if r not in REGION_WIDE_ROLES],
                organisation_id__in={m for _action, m in pairs},
            )
        )
        .select_related("user")
    )
    region_wide = {action: [] for action in actions}
    by_municipality = {}
    for membership in memberships:
        if membership.role in REGION_WIDE_ROLES:
            for action in ROLE_ACTIONS[membership.role] & actions:
                region_wide[action].append(membership.user)
        else:
            by_municipality.setdefault(membership.organisation_id, []).append(membership)
    for action, municipality_id in pairs:
        users = region_wide[action] + [
            m.user for m in by_municipality.get(municipality_id, ()) if action in ROLE_ACTIONS[m.role]
        ]
        unique = {user.pk: user for user in users}
        found[(action, municipality_id)] = sorted(unique.values(), key=lambda u: (u.full_name, u.pk))
    return found


def action_scope(user, action):
    """Where ``user`` may perform ``action``: None for every municipality, else a
    set of municipality ids (empty when nowhere)."""
    action = Action(action)
    ids = set()
    for membership in _active_memberships(user):
        if action not in ROLE_ACTIONS[membership.role]:
            continue
        if membership.role in REGION_WIDE_ROLES:
            return None
        ids.add(membership.organisation_id)
    return ids


def can_attach(user, agreement):
    """Those who take steps on an agreement may attach files to it; readers may not."""
    return any(
        can_act_for(user, agreement.municipality, action)
        for action in (Action.DRAFT, Action.REVIEW, Action.DECIDE_MUNICIPALITY, Action.REPORT_FOLLOW_UP)
    )


def who_can(action, municipality):
    """A readable answer to "who must act?": the roles that may take ``action``
    and the organisation they act for, e.g. "Municipal cultural head (Falun)"."""
    action = Action(action)
    parts = []
    for role, actions in ROLE_ACTIONS.items():
        if action in actions:
            where = "Region Dalarna" if role in REGION_WIDE_ROLES else municipality.name
            parts.append(f"{role.label} ({where})")
    return ", ".join(parts)


# ----------------------------------------------------------------------------
# Sign-in
# ----------------------------------------------------------------------------


def requires_two_factor(user):
    """Must ``user`` confirm sign-in with a one-time code (TOTP)?

    Those who hold a role named in settings.SAMVERKAN_REQUIRE_2FA_ROLES do
    (by default coordinators and administrators, who act on every
    municipality); so do superusers whenever administrators do. Everyone
    else may turn it on voluntarily."""
    from django.conf import settings

    required = {Role(role) for role in getattr(settings, "SAMVERKAN_REQUIRE_2FA_ROLES", ())}
    if not required or user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser and Role.ADMINISTRATOR in required:
        return True
    return bool(roles_of(user) & required)
