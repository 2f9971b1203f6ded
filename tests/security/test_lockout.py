"""Guessing passwords: after 5 wrong passwords in a row for one e-mail address
from one client address, logging in to that account from there pauses for 15
minutes, and the page says until when. Always through the real /login/ form."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from tests.security.helpers import is_logged_in, post_login

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("axes_on")]

STOCKHOLM = ZoneInfo("Europe/Stockholm")
START = dt.datetime(2026, 3, 2, 10, 0, tzinfo=STOCKHOLM)
OFFICE_IP = "192.0.2.10"  # one public address for a whole municipal office
OTHER_IP = "198.51.100.20"


def fail(client, user, times, ip=OFFICE_IP):
    responses = [post_login(client, user.email, "wrong-password", REMOTE_ADDR=ip) for _ in range(times)]
    return responses[-1] if responses else None


def try_again_at(time):
    with translation.override("sv"):
        return gettext("You can try again at %(time)s.") % {"time": time}


def test_locked_out_after_five_failures_until_the_cool_off_ends(client, mora_head, time_machine):
    time_machine.move_to(START, tick=False)
    for attempt in range(1, 5):
        response = post_login(client, mora_head.email, "wrong-password", REMOTE_ADDR=OFFICE_IP)
        assert response.status_code == 200, attempt
        assert "E-postadressen eller lösenordet är fel" in response.content.decode()

    fifth = post_login(client, mora_head.email, "wrong-password", REMOTE_ADDR=OFFICE_IP)
    assert fifth.status_code == 429
    html = fifth.content.decode()
    assert '<html lang="sv">' in html
    assert try_again_at("10:15") in html

    # The right password does not help while locked out, one second before the end either.
    right = post_login(client, mora_head.email, REMOTE_ADDR=OFFICE_IP)
    assert right.status_code == 429
    assert not is_logged_in(client)
    time_machine.shift(dt.timedelta(minutes=14, seconds=59))
    still = post_login(client, mora_head.email, REMOTE_ADDR=OFFICE_IP)
    assert still.status_code == 429
    assert try_again_at("10:15") in still.content.decode(), "trying during the lock-out must not extend it"
    assert not is_logged_in(client)

    time_machine.shift(dt.timedelta(seconds=2))
    response = post_login(client, mora_head.email, REMOTE_ADDR=OFFICE_IP)
    assert response.status_code == 302
    assert is_logged_in(client)


def test_the_lock_is_counted_afresh_after_the_cool_off(client, mora_head, time_machine):
    time_machine.move_to(START, tick=False)
    assert fail(client, mora_head, 5).status_code == 429
    time_machine.shift(dt.timedelta(minutes=16))
    # A fresh count: four more mistakes are not yet a lock-out.
    assert fail(client, mora_head, 4).status_code == 200
    assert post_login(client, mora_head.email, REMOTE_ADDR=OFFICE_IP).status_code == 302


def test_a_shared_office_address_does_not_lock_out_colleagues(client, mora_head, mora_official, time_machine):
    time_machine.move_to(START, tick=False)
    assert fail(client, mora_head, 5).status_code == 429
    # A colleague behind the same public address logs in as usual...
    assert post_login(client, mora_official.email, REMOTE_ADDR=OFFICE_IP).status_code == 302
    client.logout()
    # ...and whoever guessed cannot lock the owner out elsewhere (e.g. at home).
    assert post_login(client, mora_head.email, REMOTE_ADDR=OTHER_IP).status_code == 302


def test_the_email_address_counts_whatever_its_case(client, mora_head, time_machine):
    time_machine.move_to(START, tick=False)
    for email in [mora_head.email.upper(), mora_head.email, f" {mora_head.email.title()} ", mora_head.email]:
        post_login(client, email, "wrong-password", REMOTE_ADDR=OFFICE_IP)
    assert post_login(client, mora_head.email.upper(), "wrong", REMOTE_ADDR=OFFICE_IP).status_code == 429


def test_a_successful_login_before_the_limit_clears_only_that_persons_count(
    client, mora_head, mora_official, time_machine
):
    time_machine.move_to(START, tick=False)
    assert fail(client, mora_head, 4).status_code == 200
    assert fail(client, mora_official, 4).status_code == 200

    assert post_login(client, mora_head.email, REMOTE_ADDR=OFFICE_IP).status_code == 302
    assert is_logged_in(client)
    client.logout()

    # The head's count started over: four more mistakes are still allowed.
    assert fail(client, mora_head, 4).status_code == 200
    assert post_login(client, mora_head.email, REMOTE_ADDR=OFFICE_IP).status_code == 302
    client.logout()
    # The colleague's four mistakes still count: the fifth locks them out.
    assert fail(client, mora_official, 1).status_code == 429


def test_the_admin_login_counts_too(client, mora_head, time_machine):
    time_machine.move_to(START, tick=False)
    for _ in range(5):
        response = client.post(
            reverse("admin:login"), {"username": mora_head.email, "password": "wrong"}, REMOTE_ADDR=OFFICE_IP
        )
    assert response.status_code == 429
    assert post_login(client, mora_head.email, REMOTE_ADDR=OFFICE_IP).status_code == 429


def test_unknown_addresses_are_locked_out_too(client, time_machine):
    time_machine.move_to(START, tick=False)
    for _ in range(4):
        assert post_login(client, "nobody@example.se", "x", REMOTE_ADDR=OFFICE_IP).status_code == 200
    assert post_login(client, "nobody@example.se", "x", REMOTE_ADDR=OFFICE_IP).status_code == 429


def test_lockout_settings_come_from_the_environment(monkeypatch):
    """LOGIN_FAILURE_LIMIT and LOGIN_LOCKOUT_MINUTES, documented in base.py."""
    import importlib

    import config.settings.base as base

    monkeypatch.setenv("LOGIN_FAILURE_LIMIT", "8")
    monkeypatch.setenv("LOGIN_LOCKOUT_MINUTES", "30")
    try:
        reloaded = importlib.reload(base)
        assert reloaded.AXES_FAILURE_LIMIT == 8
        assert reloaded.AXES_COOLOFF_TIME.total_seconds() == 30 * 60
    finally:
        monkeypatch.delenv("LOGIN_FAILURE_LIMIT")
        monkeypatch.delenv("LOGIN_LOCKOUT_MINUTES")
        reloaded = importlib.reload(base)
    assert reloaded.AXES_FAILURE_LIMIT == 5
    assert reloaded.AXES_COOLOFF_TIME.total_seconds() == 15 * 60
    assert reloaded.AXES_COOLOFF_TIME is not None, "a lock-out is never permanent"
