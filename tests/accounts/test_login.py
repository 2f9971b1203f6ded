import pytest
from django.urls import reverse

from accounts.demo import DEMO_PASSWORD, DEMO_USERS
from tests.factories.accounts import PASSWORD

pytestmark = pytest.mark.django_db


def test_login_page_is_swedish_by_default(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="sv">' in html
    assert "Logga in" in html
    assert "E-postadress" in html


def test_login_page_in_english_when_chosen(client):
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    response = client.get(reverse("login"))
    assert '<html lang="en">' in response.content.decode()
    assert "Log in" in response.content.decode()


def test_login_with_email_and_logout(client, falun_head):
    response = client.post(reverse("login"), {"username": falun_head.email, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("home"), follow=True).status_code == 200
    client.post(reverse("logout"))
    assert "/login/" in client.get(reverse("workflows:inbox"))["Location"]


def test_wrong_password_says_what_to_do(client, falun_head):
    response = client.post(reverse("login"), {"username": falun_head.email, "password": "fel"})
    assert response.status_code == 200
    assert "E-postadressen eller lösenordet är fel" in response.content.decode()


def test_every_demo_user_can_log_in(client, django_user_model):
    from django.core.management import call_command

    call_command("seed_demo")
    for email, *_ in DEMO_USERS:
        client.logout()
        response = client.post(reverse("login"), {"username": email, "password": DEMO_PASSWORD})
        assert response.status_code == 302, email


def test_deactivated_user_cannot_log_in(client, falun_head, coordinator):
    from accounts.services import user_deactivate

    user_deactivate(actor=coordinator, user=falun_head, reason="Slutat")
    response = client.post(reverse("login"), {"username": falun_head.email, "password": PASSWORD})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_swedish_even_when_the_browser_asks_for_english(client):
    response = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert '<html lang="sv">' in response.content.decode()
    assert response["Content-Language"] == "sv"
