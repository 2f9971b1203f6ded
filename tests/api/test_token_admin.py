"""Administrators create integration tokens in the administration (the token
is shown once) and revoke them; others may not; nothing is deleted."""

import re

import pytest
from django.test import Client

from accounts.models import Role
from api.models import IntegrationToken
from tests.factories import municipality

pytestmark = pytest.mark.django_db
ADD = "/admin/api/integrationtoken/add/"
LIST = "/admin/api/integrationtoken/"


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def test_an_administrator_creates_a_token_shown_once_and_revokes_it(administrator):
    client = signed_in(administrator)
    response = client.post(
        ADD,
        {
            "name": "Diarium",
            "organisation": municipality("Falun").pk,
            "role": Role.CULTURAL_HEAD,
            "expires_at_0": "2099-01-01",
            "expires_at_1": "12:00:00",
        },
        follow=True,
    )
    assert response.status_code == 200
    page = response.content.decode()
    key = re.search(r"svk_[0-9a-f]{12}_[A-Za-z0-9_-]+", page).group(0)
    token = IntegrationToken.objects.get()
    assert token.key_hash != key and key not in token.key_hash and token.prefix in key
    assert Client(HTTP_AUTHORIZATION=f"Bearer {key}").get("/api/v1/agreements/").status_code == 200
    assert key not in client.get(f"{LIST}{token.pk}/change/").content.decode()  # shown once only
    client.post(LIST, {"action": "revoke", "_selected_action": [token.pk]})
    token.refresh_from_db()
    assert token.revoked_by == administrator and not token.account.is_active
    assert Client(HTTP_AUTHORIZATION=f"Bearer {key}").get("/api/v1/agreements/").status_code == 401
    history = client.get(f"{LIST}{token.pk}/history/")
    assert history.status_code == 200


@pytest.mark.parametrize(
    "role,expires,organisation",
    [
        (Role.ADMINISTRATOR, "2099-01-01", "Falun"),  # not a token's role
        (Role.CULTURAL_HEAD, "2001-01-01", "Falun"),  # expired already
        (Role.COORDINATOR, "2099-01-01", "Falun"),  # a region role in a municipality
    ],
)
def test_a_wrong_token_is_refused_next_to_its_field(administrator, role, expires, organisation):
    response = signed_in(administrator).post(
        ADD,
        {
            "name": "X",
            "organisation": municipality(organisation).pk,
            "role": role,
            "expires_at_0": expires,
            "expires_at_1": "12:00:00",
        },
    )
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    assert not IntegrationToken.objects.exists()


def test_others_may_not_manage_tokens(coordinator, falun_head):
    for user in (coordinator, falun_head):
        client = signed_in(user)
        assert client.get(LIST).status_code in (302, 403)
        assert client.post(ADD, {"name": "x"}).status_code in (302, 403)
    assert not IntegrationToken.objects.exists()
