"""Guessing passwords: after 5 wrong passwords in a row for one e-mail address
from one client address, logging in to that account from there pauses for 15
minutes, and the page says until when. Spraying one password over many
accounts from one address pauses that password there. Always through the
real /login/ form."""

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


SPRAYED = "Sommar2026!"


def spray(client, accounts, ip=OFFICE_IP):
    """One password against many accounts, once each (none reaches its own limit)."""
    return [post_login(client, f"person{n}@mora.se", SPRAYED, REMOTE_ADDR=ip).status_code for n in range(accounts)]


def test_one_password_against_many_accounts_is_paused_from_that_address(
    client, mora_head, mora_official, time_machine, settings
):
    """Password spraying: after LOGIN_SPRAY_LIMIT different accounts, that
    password is refused from that address for every account, even where it is
    right; colleagues behind the same address and the same password from
    elsewhere are not affected, and the pause ends."""
    time_machine.move_to(START, tick=False)
    mora_head.set_password(SPRAYED)  # the sprayed password happens to be someone's
    mora_head.save()
    assert settings.LOGIN_SPRAY_LIMIT == 5
    assert spray(client, 5) == [200] * 5

    refused = post_login(client, mora_head.email, SPRAYED, REMOTE_ADDR=OFFICE_IP)
    assert refused.status_code == 429
    html = refused.content.decode()
    assert "Det här lösenordet var fel för 5 olika konton" in html
    assert try_again_at("10:15") in html
    assert not is_logged_in(client)

    # A colleague at the same office signs in with their own password.
    assert post_login(client, mora_official.email, REMOTE_ADDR=OFFICE_IP).status_code == 302
    client.logout()
    # The same password from another address works (it is the head's, at home).
    assert post_login(client, mora_head.email, SPRAYED, REMOTE_ADDR=OTHER_IP).status_code == 302
    client.logout()

    # Trying during the pause does not extend it; it ends 15 minutes after the last counted failure.
    time_machine.shift(dt.timedelta(minutes=14, seconds=59))
    assert spray(client, 1) == [429]
    time_machine.shift(dt.timedelta(seconds=2))
    assert post_login(client, mora_head.email, SPRAYED, REMOTE_ADDR=OFFICE_IP).status_code == 302


def test_fewer_accounts_than_the_limit_or_many_passwords_are_not_paused(client, mora_head, time_machine):
    time_machine.move_to(START, tick=False)
    assert spray(client, 4) == [200] * 4
    for n in range(5):  # different passwords against different accounts: each account counts for itself
        assert post_login(client, f"other{n}@mora.se", f"guess-{n}", REMOTE_ADDR=OFFICE_IP).status_code == 200
    mora_head.set_password(SPRAYED)
    mora_head.save()
    assert post_login(client, mora_head.email, SPRAYED, REMOTE_ADDR=OFFICE_IP).status_code == 302


def test_the_sprayed_password_is_never_stored(client, time_machine):
    from accounts.models import FailedPasswordAttempt

    time_machine.move_to(START, tick=False)
    spray(client, 3)
    rows = list(FailedPasswordAttempt.objects.values_list("ip", "username", "fingerprint"))
    assert [(ip, name) for ip, name, _print in rows] == [(OFFICE_IP, f"person{n}@mora.se") for n in range(3)]
    assert len({p for _ip, _name, p in rows}) == 1
    assert all(SPRAYED not in p and len(p) == 64 for _ip, _name, p in rows)
    # Counters older than the pause are removed with the next failure.
    time_machine.shift(dt.timedelta(minutes=16))
    spray(client, 1)
    assert FailedPasswordAttempt.objects.count() == 1
