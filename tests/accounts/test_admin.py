import pytest
from django.urls import reverse

from accounts.models import Membership, Role
from tests.factories import UserFactory, municipality, region
from tests.factories.accounts import PASSWORD

pytestmark = pytest.mark.django_db


def test_administrator_adds_a_membership_through_the_admin(client, administrator):
    client.login(email=administrator.email, password=PASSWORD)
    user = UserFactory()
    response = client.post(
        reverse("admin:accounts_membership_add"),
        {"user": user.pk, "organisation": municipality("Mora").pk, "role": Role.OFFICIAL, "is_active": "on"},
    )
    assert response.status_code == 302
    membership = Membership.objects.get(user=user)
    assert membership.history.get().history_user == administrator
    assert user.groups.filter(name__contains="2062").exists()


def test_admin_refuses_a_role_that_does_not_fit_the_organisation(client, administrator):
    client.login(email=administrator.email, password=PASSWORD)
    user = UserFactory()
    response = client.post(
        reverse("admin:accounts_membership_add"),
        {"user": user.pk, "organisation": region().pk, "role": Role.CULTURAL_HEAD, "is_active": "on"},
    )
    assert response.status_code == 200
    assert "hör till en kommun" in response.content.decode()
    assert not Membership.objects.filter(user=user).exists()


def test_nothing_can_be_deleted_in_the_admin(client, administrator, falun_head):
    client.login(email=administrator.email, password=PASSWORD)
    response = client.post(reverse("admin:accounts_user_delete", args=[falun_head.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert type(falun_head).objects.filter(pk=falun_head.pk).exists()


def test_municipal_user_cannot_use_the_admin(client, falun_head):
    client.login(email=falun_head.email, password=PASSWORD)
    response = client.get(reverse("admin:accounts_user_changelist"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_user_history_is_shown_in_the_admin(client, administrator, falun_head):
    client.login(email=administrator.email, password=PASSWORD)
    response = client.get(reverse("admin:accounts_user_history", args=[falun_head.pk]))
    assert response.status_code == 200


def test_deactivating_a_municipality_in_the_admin_ends_its_members_access(client, administrator, falun_head):
    """Grants are derived from active memberships, and a membership of an
    inactive organisation is not active: the members' groups go at once."""
    from accounts.models import User
    from accounts.permissions import Action, can_act_for

    falun = municipality("Falun")
    assert can_act_for(falun_head, falun, Action.REVIEW)
    client.login(email=administrator.email, password=PASSWORD)
    response = client.post(
        reverse("admin:accounts_organisation_change", args=[falun.pk]),
        {"kind": "municipality", "name": "Falun", "kommunkod": "2080"},  # "is_active" unticked
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    falun.refresh_from_db()
    assert falun.is_active is False
    head = User.objects.get(pk=falun_head.pk)
    assert not can_act_for(head, falun, Action.VIEW)
    assert not head.groups.exists()
    assert falun.history.latest().history_user == administrator
