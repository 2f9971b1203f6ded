import pytest
from django.core.exceptions import ValidationError

from accounts import services
from accounts.models import Membership, Role, User
from accounts.permissions import Action, can_act_for
from tests.factories import UserFactory, municipality, region, user_with_role

pytestmark = pytest.mark.django_db


def fresh(user):
    """The user as the next request loads it."""
    return User.objects.get(pk=user.pk)


def test_cultural_head_of_the_region_is_refused():
    user = UserFactory()
    with pytest.raises(ValidationError) as error:
        services.membership_create(actor=None, user=user, organisation=region(), role=Role.CULTURAL_HEAD)
    assert "role" in error.value.message_dict
    assert not Membership.objects.filter(user=user).exists()


def test_coordinator_of_a_municipality_is_refused():
    user = UserFactory()
    with pytest.raises(ValidationError):
        services.membership_create(actor=None, user=user, organisation=municipality("Mora"), role=Role.COORDINATOR)
    assert not Membership.objects.filter(user=user).exists()


def test_ending_a_membership_narrows_access_at_the_next_request(coordinator):
    head = user_with_role(Role.CULTURAL_HEAD, "Falun")
    assert can_act_for(head, municipality("Falun"), Action.REVIEW)
    membership = Membership.objects.get(user=head)

    services.membership_end(actor=coordinator, membership=membership, reason="Byter tjänst")

    head = fresh(head)
    assert not can_act_for(head, municipality("Falun"), Action.VIEW)
    assert not head.has_perm("accounts.review_agreement", municipality("Falun"))
    membership.refresh_from_db()
    assert membership.is_active is False  # kept, not deleted
    last = membership.history.latest()
    assert last.history_user == coordinator
    assert last.history_change_reason == "Byter tjänst"


def test_a_user_may_hold_several_memberships():
    user = user_with_role(Role.CULTURAL_HEAD, "Orsa")
    services.membership_create(actor=None, user=user, organisation=municipality("Mora"), role=Role.OFFICIAL)
    user = fresh(user)
    assert can_act_for(user, municipality("Orsa"), Action.REVIEW)
    assert can_act_for(user, municipality("Mora"), Action.DECIDE_MUNICIPALITY)
    assert not can_act_for(user, municipality("Mora"), Action.REVIEW)
    assert not can_act_for(user, municipality("Falun"), Action.VIEW)


def test_deactivated_user_has_no_access(coordinator):
    head = user_with_role(Role.CULTURAL_HEAD, "Falun")
    services.user_deactivate(actor=coordinator, user=head, reason="Slutat")
    head = fresh(head)
    assert head.is_active is False
    assert not can_act_for(head, municipality("Falun"), Action.VIEW)
    assert User.objects.filter(pk=head.pk).exists()


def test_no_municipal_user_or_group_holds_a_model_wide_permission(falun_head, mora_official):
    for user in (falun_head, mora_official):
        user = fresh(user)
        assert user.get_all_permissions() == set()
        for group in user.groups.all():
            assert group.permissions.count() == 0


def test_object_permissions_sit_on_the_municipality_row_only(falun_head):
    from guardian.models import GroupObjectPermission

    rows = GroupObjectPermission.objects.filter(group__in=falun_head.groups.all())
    assert rows.exists()
    assert {row.object_pk for row in rows} == {str(municipality("Falun").pk)}
    assert {row.content_type.model for row in rows} == {"organisation"}


def test_membership_change_is_recorded_with_who_and_why(coordinator, administrator):
    user = UserFactory()
    membership = services.membership_create(
        actor=administrator, user=user, organisation=municipality("Leksand"), role=Role.OFFICIAL, reason="Nyanställd"
    )
    record = membership.history.get()
    assert record.history_type == "+"
    assert record.history_user == administrator
    assert record.history_change_reason == "Nyanställd"
