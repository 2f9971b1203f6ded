"""The user's own page of sign-ins: recent sign-ins (time, method, address),
the sessions signed in now, and ending the others."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import SignInEvent, UserSession
from tests.factories.accounts import PASSWORD
from tests.security.helpers import give_device, post_login, verify_otp

pytestmark = pytest.mark.django_db

PAGE = reverse("accounts:sign_ins")
END = reverse("accounts:sessions_end")
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"


def browser(user, ip, agent=FIREFOX):
    client = Client(REMOTE_ADDR=ip, HTTP_USER_AGENT=agent)
    assert post_login(client, user.email, PASSWORD).status_code == 302
    return client


def test_the_page_lists_sign_ins_and_the_sessions_signed_in_now(mora_head):
    home = browser(mora_head, "192.0.2.10")
    work = browser(mora_head, "198.51.100.7", agent="Edge/140")
    Client(REMOTE_ADDR="203.0.113.9").post(reverse("login"), {"username": mora_head.email, "password": "fel"})

    page = home.get(PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Dina inloggningar" in html
    for address in ("192.0.2.10", "198.51.100.7", "203.0.113.9"):
        assert address in html
    assert "Misslyckad inloggning" in html and "Lösenord" in html
    assert [s.ip for s in page.context["sessions"]] == ["198.51.100.7", "192.0.2.10"]
    assert [s.ip for s in page.context["others"]] == ["198.51.100.7"]
    assert "Den här webbläsaren" in html
    assert work.get(PAGE).status_code == 200


def test_ending_another_session_signs_that_browser_out_and_is_recorded(mora_head, falun_head):
    home = browser(mora_head, "192.0.2.10")
    work = browser(mora_head, "198.51.100.7")
    falun = browser(falun_head, "192.0.2.99")
    theirs = UserSession.objects.get(user=falun_head)
    work_session = UserSession.objects.get(user=mora_head, ip="198.51.100.7")

    # Another person's session, and one's own current one, are not ended from here.
    home.post(END, {"session": theirs.pk})
    mine = UserSession.objects.get(session_key=home.session.session_key)
    home.post(END, {"session": mine.pk})
    assert falun.get(PAGE).status_code == 200
    assert home.get(PAGE).status_code == 200
    assert work.get(PAGE).status_code == 200

    response = home.post(END, {"session": work_session.pk}, follow=True)
    assert "1 session avslutad" in response.content.decode()
    assert work.get(PAGE)["Location"].startswith(reverse("login"))
    assert home.get(PAGE).status_code == 200
    work_session.refresh_from_db()
    assert work_session.ended_at is not None and work_session.end_reason == "ended_by_user"
    event = SignInEvent.objects.get(kind="ended")
    assert (event.user, event.ip, event.method) == (mora_head, "192.0.2.10", "password")
    assert "198.51.100.7" in event.detail


def test_end_all_other_sessions(mora_head):
    clients = [browser(mora_head, f"192.0.2.{n}") for n in range(1, 4)]
    clients[0].post(END, {"session": "all"})
    assert clients[0].get(PAGE).status_code == 200
    assert all(c.get(PAGE).status_code == 302 for c in clients[1:])
    assert UserSession.objects.filter(user=mora_head, ended_at__isnull=True).count() == 1
    assert SignInEvent.objects.filter(kind="ended", user=mora_head).count() == 2


def test_signing_out_ends_the_session_record(mora_head):
    client = browser(mora_head, "192.0.2.10")
    client.post(reverse("logout"))
    row = UserSession.objects.get(user=mora_head)
    assert row.end_reason == "signed_out" and row.ended_at is not None


@pytest.mark.usefixtures("two_factor_on")
def test_the_session_is_followed_through_the_two_step_code(coordinator):
    """The code step gives the session a new key; the record follows it."""
    give_device(coordinator)
    client = browser(coordinator, "192.0.2.10")
    verify_otp(client, coordinator)
    row = UserSession.objects.get(user=coordinator)
    assert row.session_key == client.session.session_key
    page = client.get(PAGE)
    assert [s.pk for s in page.context["sessions"]] == [row.pk]


def test_a_get_ends_nothing_and_bad_input_is_refused(mora_head):
    home = browser(mora_head, "192.0.2.10")
    work = browser(mora_head, "192.0.2.11")
    assert home.get(END).status_code == 405
    response = home.post(END, {"session": "drop table"}, follow=True)
    assert "Välj en session att avsluta" in response.content.decode()
    assert work.get(PAGE).status_code == 200


def test_the_page_needs_a_login(client):
    assert client.get(PAGE)["Location"].startswith(reverse("login"))
