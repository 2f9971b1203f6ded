"""The permission rules as a table: every role × own municipality / another
municipality / the region × every action, each cell asserted once, through
the one path every check takes: `can_act_for`, which asks the grants derived
from the memberships through Django's and guardian's backends (`has_perm`),
as viewflow does for a step's `.Permission`."""

import pytest
from django.contrib.auth.backends import ModelBackend
from guardian.core import ObjectPermissionChecker

from accounts.models import Role, User
from accounts.permissions import (
    ACTION_PERMISSIONS,
    Action,
    can_act_for,
    can_manage_outgoing_email,
    grants_of,
    perm_name,
)
from tests.factories import municipality, region, user_with_role

A = Action
MUNICIPAL_HEAD = {A.VIEW, A.REVIEW, A.DECIDE_MUNICIPALITY, A.SIGN_MUNICIPALITY, A.REPORT_FOLLOW_UP}
MUNICIPAL_OFFICIAL = {A.VIEW, A.DECIDE_MUNICIPALITY, A.REPORT_FOLLOW_UP}
COORDINATOR = {
    A.VIEW,
    A.DRAFT,
    A.WITHDRAW,
    A.DECIDE_REGION,
    A.SIGN_REGION,
    A.REVIEW_FOLLOW_UP,
    A.MANAGE_MEETINGS,
    A.READ_AUDIT,
}
AUDITOR = {A.VIEW, A.READ_AUDIT}
ADMINISTRATOR = {A.ADMINISTER}

# (role, where the user belongs) -> {target: allowed actions}
# Targets: "own" = Falun (the municipal users' own), "other" = Mora, "region" = Region Dalarna.
TABLE = {
    (Role.CULTURAL_HEAD, "Falun"): {"own": MUNICIPAL_HEAD, "other": set(), "region": set()},
    (Role.OFFICIAL, "Falun"): {"own": MUNICIPAL_OFFICIAL, "other": set(), "region": set()},
    (Role.COORDINATOR, None): {"own": COORDINATOR, "other": COORDINATOR, "region": COORDINATOR},
    (Role.AUDITOR, None): {"own": AUDITOR, "other": AUDITOR, "region": AUDITOR},
    (Role.ADMINISTRATOR, None): {"own": ADMINISTRATOR, "other": ADMINISTRATOR, "region": ADMINISTRATOR},
}
CELLS = [
    (role, home, target, action)
    for (role, home), targets in TABLE.items()
    for target in ("own", "other", "region")
    for action in Action
]


def _target(name):
    return {"own": municipality("Falun"), "other": municipality("Mora"), "region": region()}[name]


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "home", "target", "action"), CELLS, ids=lambda v: str(v))
def test_permission_cell(role, home, target, action):
    user = user_with_role(role, home)
    expected = action in TABLE[(role, home)][target]
    assert can_act_for(user, _target(target), action) is expected


def test_table_covers_every_role():
    assert {role for role, _ in TABLE} == set(Role)


def test_every_action_has_one_permission_and_every_step_uses_it():
    """Each action has its permission; each human step declares, as its viewflow
    `.Permission`, the permission of the action it checks."""
    from workflows.flows import AgreementFlow
    from workflows.nodes import AgreementStep

    assert set(ACTION_PERMISSIONS) == set(Action)
    steps = [node for node in AgreementFlow.instance.nodes() if isinstance(node, AgreementStep)]
    assert steps
    for node in steps:
        assert node._owner_permission == perm_name(node.action), node.name


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "home"), list(TABLE), ids=lambda v: str(v))
def test_one_query_reads_what_the_backends_would(role, home, django_assert_num_queries):
    """grants_of reads a user's grants in one query and fills the caches that
    Django's ModelBackend and guardian's checker would fill themselves; after
    it, no check of the request asks the database."""
    user = user_with_role(role, home)
    primed, own = User.objects.get(pk=user.pk), User.objects.get(pk=user.pk)
    targets = [_target(name) for name in ("own", "other", "region")]
    with django_assert_num_queries(1):
        grants_of(primed)
    with django_assert_num_queries(0):
        for target in targets:
            for action in Action:
                can_act_for(primed, target, action)

    assert primed._perm_cache == ModelBackend().get_all_permissions(own)
    assert primed._user_perm_cache == own._user_perm_cache
    assert primed._group_perm_cache == own._group_perm_cache
    checker = ObjectPermissionChecker(own)
    checker._prefetch_cache()
    assert {key: sorted(perms) for key, perms in primed._guardian_perms_cache.items()} == {
        key: sorted(perms) for key, perms in checker._obj_perms_cache.items()
    }


def test_whoever_may_take_a_step_may_see_the_agreement():
    """The step's wrapper (workflows.nodes.wrap_step_view) checks only the
    step's permission before the lock, and looks at VIEW only to choose between
    403 and 404 when refused: so every role that takes a step must see."""
    from accounts.permissions import ROLE_ACTIONS
    from workflows.flows import AgreementFlow
    from workflows.nodes import AgreementStep

    step_actions = {node.action for node in AgreementFlow.instance.nodes() if isinstance(node, AgreementStep)}
    for role, actions in ROLE_ACTIONS.items():
        if actions & step_actions:
            assert Action.VIEW in actions, role


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "home"), list(TABLE), ids=lambda v: str(v))
def test_only_administrators_manage_the_outgoing_email(role, home):
    assert can_manage_outgoing_email(user_with_role(role, home)) is (role == Role.ADMINISTRATOR)


@pytest.mark.django_db
def test_those_who_are_told_are_exactly_those_who_may(django_assert_num_queries):
    """The recipients of step e-mail, reminders and escalations
    (users_who_can_each) are exactly the active users for whom the one check
    says yes, for every action on each municipality, in two queries."""
    from accounts.permissions import users_who_can_each
    from accounts.services import user_deactivate

    users = [user_with_role(role, home) for role, home in TABLE]
    gone = user_with_role(Role.CULTURAL_HEAD, "Falun", full_name="Slutat Falun")
    user_deactivate(actor=users[0], user=gone, reason="Slutat")
    places = [municipality("Falun"), municipality("Mora")]
    pairs = [(action, place.pk) for action in Action for place in places]
    with django_assert_num_queries(2):
        told = users_who_can_each(pairs)
    for action in Action:
        for place in places:
            expected = {u.pk for u in users if can_act_for(User.objects.get(pk=u.pk), place, action)}
            assert {u.pk for u in told[(action, place.pk)]} == expected, (action, place)
            assert gone.pk not in {u.pk for u in told[(action, place.pk)]}


# Substitutes (ersättare): a Falun official standing in for the Falun cultural head
# holds the head's actions on Falun while the absence lasts, nothing more, and
# nothing on Mora; afterwards only their own.
SUBSTITUTE_TABLE = {
    "during": {"own": MUNICIPAL_HEAD | MUNICIPAL_OFFICIAL, "other": set(), "region": set()},
    "after": {"own": MUNICIPAL_OFFICIAL, "other": set(), "region": set()},
}


@pytest.mark.django_db
@pytest.mark.parametrize("when", ["during", "after"])
def test_substitute_cells(when):
    import datetime

    from django.utils import timezone

    from accounts.services import absence_end, absence_record

    head = user_with_role(Role.CULTURAL_HEAD, "Falun")
    substitute = user_with_role(Role.OFFICIAL, "Falun")
    today = timezone.localdate()
    absence = absence_record(
        actor=head, user=head, starts_on=today, ends_on=today + datetime.timedelta(days=3), substitute=substitute
    )
    if when == "after":
        absence_end(actor=head, absence=absence)
    substitute = User.objects.get(pk=substitute.pk)
    for target in ("own", "other", "region"):
        for action in Action:
            expected = action in SUBSTITUTE_TABLE[when][target]
            assert can_act_for(substitute, _target(target), action) is expected, (when, target, action)
    # The absent person keeps their own.
    head = User.objects.get(pk=head.pk)
    assert all(can_act_for(head, _target("own"), action) for action in MUNICIPAL_HEAD)
