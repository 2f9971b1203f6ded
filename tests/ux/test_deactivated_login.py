"""A deactivated person with the right password is told that the account is
not active and whom to contact; a wrong password for the same account gets the
message an unknown address gets (nobody learns which accounts exist)."""

import pytest
from django.test import override_settings
from django.urls import reverse

from accounts.services import user_deactivate
from tests.factories.accounts import PASSWORD

pytestmark = pytest.mark.django_db

GENERIC = "E-postadressen eller lösenordet är fel"
NOT_ACTIVE = "Ditt konto är inte längre aktivt"


def errors_of(response):
    return [str(e) for e in response.context["form"].non_field_errors()]


@override_settings(SITE_ORGANISATION="Region Dalarna", SUPPORT_EMAIL="kultur@regiondalarna.se")
def test_the_right_password_of_a_deactivated_account_says_it_is_not_active_and_whom_to_contact(
    client, falun_head, coordinator
):
    user_deactivate(actor=coordinator, user=falun_head, reason="Slutat")
    response = client.post(reverse("login"), {"username": falun_head.email, "password": PASSWORD})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    [error] = errors_of(response)
    assert error.startswith(NOT_ACTIVE)
    assert "Region Dalarna" in error and "kultur@regiondalarna.se" in error
    assert GENERIC not in response.content.decode()


def test_a_wrong_password_for_a_deactivated_account_reads_as_for_an_unknown_address(client, falun_head, coordinator):
    user_deactivate(actor=coordinator, user=falun_head, reason="Slutat")
    deactivated = client.post(reverse("login"), {"username": falun_head.email, "password": "fel-lösenord"})
    unknown = client.post(reverse("login"), {"username": "ingen@falun.se", "password": "fel-lösenord"})
    assert errors_of(deactivated) == errors_of(unknown)
    assert errors_of(deactivated)[0].startswith(GENERIC)
    assert NOT_ACTIVE not in deactivated.content.decode()
