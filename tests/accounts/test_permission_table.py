"""The permission rules as a table: every role × own municipality / another
municipality / the region × every action, each cell asserted, both by the rule
(`can_act_for`) and by what guardian tells viewflow (`has_perm`)."""

import pytest

from accounts.models import Role
from accounts.permissions import ACTION_PERMISSIONS, Action, can_act_for, can_manage_outgoing_email
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
    organisation = _target(target)

    assert can_act_for(user, organisation, action) is expected

    if action in ACTION_PERMISSIONS:
        perm = f"accounts.{ACTION_PERMISSIONS[action]}"
        via_guardian = user.has_perm(perm, organisation) or user.has_perm(perm)
        # The region row carries no object permissions; model-wide grants stand for it.
        assert via_guardian is expected, f"guardian disagrees with the rule for {perm} on {organisation}"


def test_table_covers_every_role():
    assert {role for role, _ in TABLE} == set(Role)


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "home"), list(TABLE), ids=lambda v: str(v))
def test_only_administrators_manage_the_outgoing_email(role, home):
    assert can_manage_outgoing_email(user_with_role(role, home)) is (role == Role.ADMINISTRATOR)
