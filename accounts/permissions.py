"""Every permission rule of Samverkan: who may do what, the only code that
grants or revokes django-guardian permissions, and the checks.

The rules are a table: a role may perform a set of actions, either on its own
municipality only (municipal roles) or on every municipality (region roles).
Each action has exactly one permission (ACTION_PERMISSIONS, on
accounts.Organisation). Memberships are the source of truth; the grants are
derived from them by ``sync_user_groups``:

- each municipal role has one group per municipality, holding object
  permissions on that municipality's Organisation row only (never one
  permission per agreement, never a model-wide permission);
- each region role has one group holding model-wide permissions.

Every check then asks the grants, through Django's and guardian's
authentication backends: may ``user`` perform ``action`` on ``municipality``
is ``user.has_perm(perm, municipality) or user.has_perm(perm)``, the same
question viewflow asks for a step's ``.Permission(perm, obj=...)``. So the
steps' permissions and the application's checks agree by construction.

The grants of a user are read once per user object, i.e. once per request,
in one query (``grants_of``), which fills the permission caches of both
backends: guardian's prefetched ObjectPermissionChecker cache
(GUARDIAN_AUTO_PREFETCH) and Django's ModelBackend cache. A membership change
therefore takes effect at the user's next request. The scopes that lists
filter by in SQL (``action_scope``) are read from the same grants.
"""

import functools
from dataclasses import dataclass, field

from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import connection, models
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from guardian.models import GroupObjectPermission, UserObjectPermission
from guardian.shortcuts import assign_perm

from .models import Absence, Membership, Organisation, Role


class Action(models.TextChoices):
    VIEW = "view", gettext_lazy("see the agreements")
    DRAFT = "draft", gettext_lazy("draft and drive agreements")
    WITHDRAW = "withdraw", gettext_lazy("withdraw agreements")
    REVIEW = "review", gettext_lazy("review drafts")
    DECIDE_REGION = "decide_region", gettext_lazy("record the region's decision")
    DECIDE_MUNICIPALITY = "decide_municipality", gettext_lazy("record the municipality's decision")
    SIGN_REGION = "sign_region", gettext_lazy("sign for the region")
    SIGN_MUNICIPALITY = "sign_municipality", gettext_lazy("sign for the municipality")
    REPORT_FOLLOW_UP = "report_follow_up", gettext_lazy("write follow-ups")
    REVIEW_FOLLOW_UP = "review_follow_up", gettext_lazy("review follow-ups")
    MANAGE_MEETINGS = "manage_meetings", gettext_lazy("record dialogue meetings")
    READ_AUDIT = "read_audit", gettext_lazy("read and export the audit log")
    ADMINISTER = "administer", gettext_lazy("manage users and organisations")


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

# action -> the permission (on accounts.Organisation, see its Meta) that stands for it:
# granted on a municipality's row to municipal roles, model-wide to region roles.
# Viewflow's task queue and the steps' `.Permission(...)` use these names too.
ACTION_PERMISSIONS = {
    Action.VIEW: "view_municipality_cases",
    Action.DRAFT: "coordinate_agreements",
    Action.WITHDRAW: "coordinate_agreements",
    Action.REVIEW: "review_agreement",
    Action.DECIDE_REGION: "record_region_decision",
    Action.DECIDE_MUNICIPALITY: "record_municipal_decision",
    Action.SIGN_REGION: "sign_for_region",
    Action.SIGN_MUNICIPALITY: "sign_for_municipality",
    Action.REPORT_FOLLOW_UP: "report_follow_up",
    Action.REVIEW_FOLLOW_UP: "review_follow_up",
    Action.MANAGE_MEETINGS: "record_dialogue_meetings",
    Action.READ_AUDIT: "read_audit_log",
    Action.ADMINISTER: "administer_accounts",
}


def perm_name(action):
    """The full permission name of an action, e.g. "accounts.review_agreement"."""
    return f"accounts.{ACTION_PERMISSIONS[Action(action)]}"


# What Django's admin site asks for besides ADMINISTER: administrators may manage
# users, organisations and memberships there.
ADMIN_MODEL_PERMISSIONS = [
    f"{verb}_{model}" for model in ("user", "organisation", "membership") for verb in ("view", "add", "change")
]


# ----------------------------------------------------------------------------
# The grants of one user, read once per request
# ----------------------------------------------------------------------------

_GRANTS = "_samverkan_grants"


@dataclass(frozen=True)
class Grants:
    """What one user holds: model-wide permissions ("app.codename") and object
    permissions per (content type id, object pk) as guardian caches them."""

    model_wide: frozenset = frozenset()
    on_objects: dict = field(default_factory=dict)
    superuser: bool = False

    def scope(self, perm):
        """Where the user holds ``perm``: None for every object, else the ids
        of the organisations whose row carries it (empty when none)."""
        if self.superuser or perm in self.model_wide:
            return None
        organisation = ContentType.objects.get_for_model(Organisation).pk
        codename = perm.split(".", 1)[1]
        return {
            int(pk) for (ct, pk), codenames in self.on_objects.items() if ct == organisation and codename in codenames
        }


NO_GRANTS = Grants()


def _usable(user):
    return user is not None and user.is_authenticated and user.is_active


@functools.cache
def _grants_sql():
    """The four kinds of grant of one user (parameter: the user's id, four
    times) in one statement: model-wide through the user and through their
    groups, on objects (guardian) through the user and through their groups.
    Rows: (kind, object pk, content type id, app label, codename). Written
    once as SQL rather than as a union of four querysets: on every request the
    ORM spent about 2 ms of CPU compiling the same statement."""
    from .models import User

    user_groups = User.groups.through._meta.db_table
    user_permissions = User.user_permissions.through._meta.db_table
    group_permissions = Group.permissions.through._meta.db_table
    permission, content_type = Permission._meta.db_table, ContentType._meta.db_table
    user_objects, group_objects = UserObjectPermission._meta.db_table, GroupObjectPermission._meta.db_table
    return f"""
        SELECT 'user', '', 0, ct.app_label, p.codename
          FROM {permission} p
          JOIN {user_permissions} up ON up.permission_id = p.id
          JOIN {content_type} ct ON ct.id = p.content_type_id
         WHERE up.user_id = %s
        UNION ALL
        SELECT 'group', '', 0, ct.app_label, p.codename
          FROM {permission} p
          JOIN {group_permissions} gp ON gp.permission_id = p.id
          JOIN {user_groups} ug ON ug.group_id = gp.group_id
          JOIN {content_type} ct ON ct.id = p.content_type_id
         WHERE ug.user_id = %s
        UNION ALL
        SELECT 'object', o.object_pk, o.content_type_id, '', p.codename
          FROM {user_objects} o
          JOIN {permission} p ON p.id = o.permission_id
         WHERE o.user_id = %s
        UNION ALL
        SELECT 'object', o.object_pk, o.content_type_id, '', p.codename
          FROM {group_objects} o
          JOIN {user_groups} ug ON ug.group_id = o.group_id
          JOIN {permission} p ON p.id = o.permission_id
         WHERE ug.user_id = %s
    """  # noqa: S608 - table names from model metadata, the user id a parameter


def grants_of(user) -> Grants:
    """The user's grants, read in one query the first time per user object,
    with Django's ModelBackend and guardian's checker primed from it, so that
    ``user.has_perm`` asks the database no more in this request."""
    if not _usable(user):
        return NO_GRANTS
    cached = user.__dict__.get(_GRANTS)
    if cached is not None:
        return cached
    if user.is_superuser:
        grants = Grants(superuser=True)
    else:
        with connection.cursor() as cursor:
            cursor.execute(_grants_sql(), [user.pk] * 4)
            rows = cursor.fetchall()
        own, via_groups, on_objects = set(), set(), {}
        for kind, object_pk, content_type_id, app_label, codename in rows:
            if kind == "object":
                on_objects.setdefault((content_type_id, object_pk), []).append(codename)
            else:
                (own if kind == "user" else via_groups).add(f"{app_label}.{codename}")
        # The caches the backends would otherwise fill with two queries each:
        # django.contrib.auth.backends.ModelBackend._get_permissions/get_all_permissions
        # and guardian.core.ObjectPermissionChecker._prefetch_cache (GUARDIAN_AUTO_PREFETCH).
        # tests/accounts/test_permission_table.py checks that they hold what the backends would read.
        user._user_perm_cache, user._group_perm_cache = own, via_groups
        user._perm_cache = own | via_groups
        user._guardian_perms_cache = on_objects
        grants = Grants(
            model_wide=frozenset(own | via_groups),
            on_objects={key: frozenset(codenames) for key, codenames in on_objects.items()},
        )
    user.__dict__[_GRANTS] = grants
    return grants


def forget_grants(user):
    """Drop what grants_of and the backends cached on this user object."""
    for attr in (_GRANTS, "_perm_cache", "_user_perm_cache", "_group_perm_cache", "_guardian_perms_cache"):
        user.__dict__.pop(attr, None)


# ----------------------------------------------------------------------------
# Checks
# ----------------------------------------------------------------------------


def can_act_for(user, municipality, action):
    """May ``user`` perform ``action`` on ``municipality``'s agreements? The
    permission on the municipality's row (guardian), or model-wide (a region
    role): as viewflow checks a step's ``.Permission(perm, obj=...)``."""
    if not _usable(user):
        return False
    grants_of(user)
    perm = perm_name(action)
    return user.has_perm(perm) or (municipality is not None and user.has_perm(perm, municipality))


def require(user, municipality, action):
    """Raise PermissionDenied, saying what was refused, unless ``can_act_for``."""
    if not can_act_for(user, municipality, action):
        raise PermissionDenied(
            _("You may not %(action)s for %(municipality)s.")
            % {"action": Action(action).label, "municipality": municipality}
        )


def action_scope(user, action):
    """Where ``user`` may perform ``action``: None for every municipality, else
    the set of municipality ids (empty when nowhere). Lists filter by it in SQL."""
    return grants_of(user).scope(perm_name(action))


def can_do_anywhere(user, action):
    """May ``user`` perform ``action`` on at least one municipality?"""
    return action_scope(user, action) != set()


def visible_municipality_ids(user):
    """Ids of the municipalities whose agreements ``user`` may see; None means all."""
    return action_scope(user, Action.VIEW)


def sees_all_municipalities(user):
    return visible_municipality_ids(user) is None


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


def can_manage_plan(user):
    """May ``user`` administer the regional plan (periods, priorities) and import
    earlier agreements? The region's coordinators: those who draft for every
    municipality."""
    return _usable(user) and action_scope(user, Action.DRAFT) is None


def can_read_plan_administration(user):
    """May ``user`` read the administration pages (plan, organisations, people)?
    Coordinators and administrators, and auditors, who read everything and
    change nothing. Municipal users may not."""
    return _usable(user) and (
        can_manage_plan(user) or action_scope(user, Action.READ_AUDIT) is None or can_administer(user)
    )


def can_manage_people(user):
    """May ``user`` invite people, give and end memberships, deactivate accounts,
    and change organisations? Administrators."""
    return can_administer(user)


# The actions that are steps of an agreement's process: who may take one has a
# to-do list, a queue of open steps and a list of steps done.
STEP_ACTIONS = frozenset(
    {
        Action.DRAFT,
        Action.REVIEW,
        Action.DECIDE_REGION,
        Action.DECIDE_MUNICIPALITY,
        Action.SIGN_REGION,
        Action.SIGN_MUNICIPALITY,
        Action.REPORT_FOLLOW_UP,
        Action.REVIEW_FOLLOW_UP,
    }
)


def takes_steps(user):
    """May ``user`` take any step of the process anywhere? (Auditors and
    administrators do not: they have no "To do".)"""
    return any(can_do_anywhere(user, action) for action in STEP_ACTIONS)


def start_page(user):
    """The URL name of the page ``user`` lands on: their steps for those who
    take steps; the audit log for auditors; the administration (or the
    e-mail outbox) for administrators."""
    if takes_steps(user):
        return "workflows:inbox"
    if can_read_audit(user):
        return "workflows:audit_log"
    if can_administer(user):
        return "admin:index" if user.is_staff else "background:outbox"
    if visible_municipality_ids(user) != set():
        return "workflows:agreements"
    return "workflows:inbox"


def can_attach(user, agreement):
    """Those who take steps on an agreement may attach files to it; readers may not."""
    return any(
        can_act_for(user, agreement.municipality, action)
        for action in (Action.DRAFT, Action.REVIEW, Action.DECIDE_MUNICIPALITY, Action.REPORT_FOLLOW_UP)
    )


def users_who_can_each(pairs):
    """``users_who_can`` for many (action, municipality id) pairs at once, in two
    queries however many pairs: {(action, municipality id): [active users, by
    name]}. Reminders and escalations find their recipients here. A user can
    when they hold the action's permission model-wide or on the municipality's
    row, themselves or through a group: guardian's grants, as every check
    reads them (grants_of)."""
    from .models import User

    pairs = {(Action(action), int(municipality_id)) for action, municipality_id in pairs}
    found = {pair: [] for pair in pairs}
    if not pairs:
        return found
    codenames = sorted({ACTION_PERMISSIONS[action] for action, _municipality_id in pairs})
    everywhere = models.Value("", output_field=models.CharField())
    model_wide = {"content_type__app_label": "accounts", "codename__in": codenames}
    on_rows = {
        "permission__codename__in": codenames,
        "content_type": ContentType.objects.get_for_model(Organisation),
        "object_pk__in": sorted({str(municipality_id) for _action, municipality_id in pairs}),
    }
    rows = (
        Permission.objects.filter(**model_wide, user__is_active=True)
        .order_by()
        .values_list("user__id", "codename", everywhere)
        .union(
            Permission.objects.filter(**model_wide, group__user__is_active=True)
            .order_by()
            .values_list("group__user__id", "codename", everywhere),
            UserObjectPermission.objects.filter(**on_rows, user__is_active=True).values_list(
                "user_id", "permission__codename", "object_pk"
            ),
            GroupObjectPermission.objects.filter(**on_rows, group__user__is_active=True).values_list(
                "group__user__id", "permission__codename", "object_pk"
            ),
        )
    )
    grants = {}  # user id -> {(codename, municipality id, or None for every municipality)}
    for user_id, codename, object_pk in rows:
        grants.setdefault(user_id, set()).add((codename, int(object_pk) if object_pk else None))
    for user in User.objects.filter(pk__in=list(grants)).order_by("full_name", "pk"):
        held = grants[user.pk]
        for action, municipality_id in pairs:
            codename = ACTION_PERMISSIONS[action]
            if (codename, None) in held or (codename, municipality_id) in held:
                found[(action, municipality_id)].append(user)
    return found


def users_who_can(action, municipality):
    """The active users who may perform ``action`` on ``municipality`` (for e-mail),
    by name."""
    action = Action(action)
    return users_who_can_each([(action, municipality.pk)])[(action, municipality.pk)]


# Short names of the roles, for running text ("kulturchef eller tjänsteperson, Falun").
ROLE_SHORT = {
    Role.COORDINATOR: gettext_lazy("coordinator"),
    Role.CULTURAL_HEAD: gettext_lazy("cultural head"),
    Role.OFFICIAL: gettext_lazy("official"),
    Role.AUDITOR: gettext_lazy("auditor"),
    Role.ADMINISTRATOR: gettext_lazy("administrator"),
}


def who_can(action, municipality):
    """A short, readable answer to "who must act?": the roles that may take
    ``action`` grouped by the organisation they act for, e.g. "Kulturchef
    eller tjänsteperson, Falun"; "Samordnare, Region Dalarna"."""
    return "; ".join(
        f"{names}, {'Region Dalarna' if region_wide else municipality.name}"
        for region_wide, names in _who_can_roles(Action(action), get_language())
    )


@functools.cache
def _who_can_roles(action, language):
    """((region-wide?, "Kulturchef eller tjänsteperson"), …) for ``action`` in
    ``language``: the same for every municipality, so worked out (and
    translated) once, not for each of a county page's 290 rows."""
    places = {}
    for role, actions in ROLE_ACTIONS.items():
        if action in actions:
            places.setdefault(role in REGION_WIDE_ROLES, []).append(str(ROLE_SHORT[role]))
    parts = []
    for region_wide, roles in places.items():
        names = (
            roles[0]
            if len(roles) == 1
            else _("%(roles)s or %(last)s")
            % {
                "roles": ", ".join(roles[:-1]),
                "last": roles[-1],
            }
        )
        parts.append((region_wide, f"{names[:1].upper()}{names[1:]}"))
    return tuple(parts)


def can_hand_over_steps(user, municipality):
    """Coordinators release a step someone has taken, or hand it to another
    person who may take it (viewflow's unassign/reassign)."""
    return can_act_for(user, municipality, Action.DRAFT)


# The signatory of each party (README › Documents and signatures): the region
# signs through a coordinator, a municipality through its own cultural head.
SIGNATORY_ROLES = {
    Action.SIGN_REGION: Role.COORDINATOR,
    Action.SIGN_MUNICIPALITY: Role.CULTURAL_HEAD,
}


def signing_membership(user, municipality, action):
    """The membership in which ``user`` signs for a party (``action`` is
    SIGN_REGION or SIGN_MUNICIPALITY) on ``municipality``'s agreement, or None
    when they may not. Only the signatory signs, for themselves: they hold the
    signing permission *and* the signatory's role in the signing organisation
    (the region for SIGN_REGION, the municipality itself otherwise). A
    substitute, a superuser or a coordinator holds no such membership for a
    municipality and cannot sign for its cultural head."""
    action = Action(action)
    if action not in SIGNATORY_ROLES or not can_act_for(user, municipality, action):
        return None
    memberships = Membership.objects.active().filter(user=user, role=SIGNATORY_ROLES[action])
    if action == Action.SIGN_REGION:
        memberships = memberships.filter(organisation__kind=Organisation.Kind.REGION)
    else:
        memberships = memberships.filter(organisation=municipality)
    return memberships.select_related("organisation").order_by("pk").first()


def signatories_of(municipality, action):
    """The active users who sign for a party (``action`` as in
    ``signing_membership``) on ``municipality``'s agreements: whose paper
    signature a coordinator may record."""
    from .models import User

    action = Action(action)
    memberships = Membership.objects.active().filter(role=SIGNATORY_ROLES[action])
    if action == Action.SIGN_REGION:
        memberships = memberships.filter(organisation__kind=Organisation.Kind.REGION)
    else:
        memberships = memberships.filter(organisation=municipality)
    candidates = User.objects.filter(pk__in=memberships.values("user_id")).order_by("full_name", "email")
    return candidates.filter(pk__in=[u.pk for u in candidates if can_act_for(u, municipality, action)])


def can_record_paper_signature(user, municipality):
    """Coordinators record a signatory's paper signature, with the scan."""
    return can_act_for(user, municipality, Action.DRAFT)


def organisation_sees(organisation, municipality_id):
    """May ``organisation`` as a whole (a webhook it registered) be told about
    ``municipality_id``'s agreements? The region sees every municipality's, a
    municipality its own: what its people may see at most."""
    return organisation.is_region or organisation.pk == municipality_id


def can_manage_outgoing_email(user):
    """Administrators see the e-mail outbox (what failed, and why) and send
    failed messages again."""
    return can_administer(user)


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
    return sorted({ACTION_PERMISSIONS[a] for a in ROLE_ACTIONS[role]})


def region_group(role):
    """The group of a region-wide role, with its model-wide permissions."""
    group, created = Group.objects.get_or_create(name=_region_group_name(role))
    if created:
        codenames = _role_permissions(role)
        if role == Role.ADMINISTRATOR:
            codenames += ADMIN_MODEL_PERMISSIONS
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


def _active_memberships(user):
    """The user's active memberships, read once per user object (per request)."""
    if not _usable(user):
        return ()
    cached = user.__dict__.get("_samverkan_memberships")
    if cached is None:
        cached = tuple(Membership.objects.active().filter(user=user).select_related("organisation"))
        user.__dict__["_samverkan_memberships"] = cached
    return cached


# ----------------------------------------------------------------------------
# Substitutes (ersättare): while a person is away, the substitute they named
# holds their step roles, in the organisations the substitute belongs to
# (guardian grants through the same per-municipality and region groups).
# ----------------------------------------------------------------------------

# The roles whose steps a substitute takes (an auditor or administrator has none).
SUBSTITUTABLE_ROLES = frozenset({Role.COORDINATOR, Role.CULTURAL_HEAD, Role.OFFICIAL})


def substitutable_memberships(user):
    """The active memberships of ``user`` whose steps a substitute would take."""
    return [
        m
        for m in Membership.objects.active().filter(user=user).select_related("organisation")
        if m.role in SUBSTITUTABLE_ROLES
    ]


def substitute_refusal(*, absent, substitute):
    """Why ``substitute`` cannot stand in for ``absent`` (a sentence), or "".
    A substitute must be another, active person who can hold each of the
    absent person's step roles in its organisation: a member of it."""
    if substitute is None:
        return ""
    if substitute.pk == absent.pk:
        return _("You cannot be your own substitute.")
    if not substitute.is_active:
        return _("%(name)s is deactivated and cannot be a substitute.") % {"name": substitute.full_name}
    roles = substitutable_memberships(absent)
    if not roles:
        return _("%(name)s has no role with steps to hand over.") % {"name": absent.full_name}
    theirs = set(Membership.objects.active().filter(user=substitute).values_list("organisation_id", flat=True))
    for membership in roles:
        if membership.organisation_id not in theirs:
            return _("%(name)s does not belong to %(organisation)s and cannot take its steps as %(role)s.") % {
                "name": substitute.full_name,
                "organisation": membership.organisation.name,
                "role": Role(membership.role).label.lower(),
            }
    return ""


def substitutes_now(user, day=None):
    """{absent user id: absent user} of the people ``user`` stands in for today."""
    if not _usable(user):
        return {}
    cached = user.__dict__.get("_samverkan_substituting")
    if cached is None or day is not None:
        absences = Absence.objects.current(day).filter(substitute=user).select_related("user")
        cached = {a.user_id: a.user for a in absences if a.user.is_active}
        if day is None:
            user.__dict__["_samverkan_substituting"] = cached
    return cached


def _substituted_memberships(user):
    """The memberships whose groups ``user`` holds as a substitute today: the
    step roles of the people they stand in for, in organisations ``user``
    belongs to."""
    absent = substitutes_now(user)
    if not absent:
        return []
    own = {m.organisation_id for m in _active_memberships(user)}
    return [
        m
        for m in Membership.objects.active().filter(user__in=list(absent)).select_related("organisation", "user")
        if m.role in SUBSTITUTABLE_ROLES and m.organisation_id in own
    ]


def acting_for(user, municipality, action, *, owner=None):
    """On whose behalf does ``user`` take a step of ``action`` on
    ``municipality``? None when on their own (their memberships give it), else
    the absent person whose role they hold now: the step's ``owner`` when it
    was taken by someone ``user`` stands in for."""
    absent = substitutes_now(user)
    if owner is not None and owner.pk != user.pk and owner.pk in absent:
        return absent[owner.pk]
    action = Action(action)
    for membership in _active_memberships(user):
        if action in ROLE_ACTIONS[membership.role] and (
            membership.role in REGION_WIDE_ROLES or membership.organisation_id == getattr(municipality, "pk", None)
        ):
            return None
    for membership in _substituted_memberships(user):
        if action in ROLE_ACTIONS[membership.role] and (
            membership.role in REGION_WIDE_ROLES or membership.organisation_id == getattr(municipality, "pk", None)
        ):
            return membership.user
    return None


def can_record_absence_for(actor, user):
    """Everyone records their own absences; administrators and coordinators
    record them for anyone."""
    if not _usable(actor):
        return False
    return actor.pk == user.pk or can_administer(actor) or can_do_anywhere(actor, Action.DRAFT)


def may_record_absences_for_others(actor):
    return _usable(actor) and (can_administer(actor) or can_do_anywhere(actor, Action.DRAFT))


def sync_user_groups(user):
    """Make the user's Samverkan groups exactly those their active memberships
    give, and those of the people they stand in for today."""
    user.__dict__.pop("_samverkan_memberships", None)
    user.__dict__.pop("_samverkan_substituting", None)
    wanted = {group_for(m).pk for m in [*_active_memberships(user), *_substituted_memberships(user)]}
    current = set(user.groups.filter(name__startswith=GROUP_PREFIX).values_list("pk", flat=True))
    if current - wanted:
        user.groups.remove(*(current - wanted))
    if wanted - current:
        user.groups.add(*(wanted - current))
    user.__dict__.pop("_samverkan_memberships", None)
    user.__dict__.pop("_samverkan_substituting", None)
    forget_grants(user)
    is_admin = can_administer(user)
    if user.is_staff != is_admin and not user.is_superuser:
        user.is_staff = is_admin
        user.save(update_fields=["is_staff"])
    forget_grants(user)  # the caller's user object asks afresh, as the next request will


# ----------------------------------------------------------------------------
# Sign-in
# ----------------------------------------------------------------------------


def roles_of(user):
    """The roles of the user's active memberships."""
    return {membership.role for membership in _active_memberships(user)}


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


def sign_in_providers_of(user):
    """The identity providers of the organisations ``user`` holds an active
    role in (accounts.providers; empty when none has one)."""
    from .providers import providers_by_organisation

    by_organisation = providers_by_organisation()
    found = []
    for membership in _active_memberships(user):
        for provider in by_organisation.get(membership.organisation_id, ()):
            if provider not in found:
                found.append(provider)
    return found


def may_use_password(user):
    """May ``user`` sign in with a password?

    Yes, unless they hold a role in an organisation that signs in through its
    own identity provider: then only when an administrator has allowed it, for
    that organisation (``Organisation.password_sign_in_allowed``) or for this
    user (``User.password_sign_in_allowed``)."""
    if user is None or getattr(user, "password_sign_in_allowed", False):
        return True
    from .providers import providers_by_organisation

    by_organisation = providers_by_organisation()
    return all(
        m.organisation.password_sign_in_allowed
        for m in _active_memberships(user)
        if m.organisation_id in by_organisation
    )
