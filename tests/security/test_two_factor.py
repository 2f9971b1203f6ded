"""Two-step verification (TOTP): required of coordinators and administrators,
optional for everyone else. Until the code is given, only the login, logout and
two-step pages answer."""

import datetime as dt

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import two_factor
from accounts.permissions import requires_two_factor
from tests.security.helpers import (
    code_for,
    enrol_by_email,
    give_device,
    is_logged_in,
    pending_code,
    post_login,
    verify_otp,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("two_factor_on")]

INBOX = "/arbete/"
SETUP = "/konto/tvastegsverifiering/aktivera/"
VERIFY = "/konto/tvastegsverifiering/kod/"
START = dt.datetime(2026, 3, 2, 9, 0, 10, tzinfo=dt.UTC)


def sv(text):
    with translation.override("sv"):
        return gettext(text)


def test_who_must_use_it(coordinator, administrator, mora_head, auditor, settings):
    assert requires_two_factor(coordinator)
    assert requires_two_factor(administrator)
    assert not requires_two_factor(mora_head)
    assert not requires_two_factor(auditor)
    settings.SAMVERKAN_REQUIRE_2FA_ROLES = []
    assert not requires_two_factor(coordinator)


def test_a_coordinator_without_an_app_must_set_one_up_first(client, coordinator, time_machine):
    time_machine.move_to(START, tick=False)
    response = post_login(client, coordinator.email)
    assert response.status_code == 302
    response = client.get(INBOX)
    assert response.status_code == 302
    assert response["Location"] == f"{SETUP}?next=%2Farbete%2F"

    # The password alone does not let them set up an app: first a link from their mailbox.
    gate = client.get(response["Location"])
    assert gate.status_code == 200
    assert two_factor.PENDING_KEY_SESSION_KEY not in client.session
    assert reverse("accounts:enrolment_request") in gate.content.decode()
    enrol_by_email(client, coordinator)

    page = client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    key = client.session[two_factor.PENDING_KEY_SESSION_KEY]
    assert two_factor.secret_base32(key) in html
    assert "data:image/svg+xml;base64," in html
    assert "otpauth://totp/Samverkan%3A" in html
    assert not TOTPDevice.objects.filter(user=coordinator).exists(), "looking at the page writes nothing"

    # Every other page still sends them here, and a wrong code is refused.
    for url in (INBOX, reverse("workflows:agreements"), reverse("admin:index"), reverse("accounts:two_factor")):
        assert client.get(url)["Location"].startswith(SETUP), url
    right = pending_code(client)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    refused = client.post(SETUP, {"code": wrong, "next": INBOX})
    assert refused.status_code == 400
    assert sv("The code does not match. Check that the clock of your phone is right and enter the code shown now.") in (
        refused.content.decode()
    )
    assert not TOTPDevice.objects.filter(user=coordinator).exists()
    assert client.get(INBOX).status_code == 302

    # The right code turns it on, verifies this session under a new key, and goes on.
    old_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    confirmed = client.post(SETUP, {"code": right, "next": INBOX})
    assert confirmed.status_code == 302
    assert confirmed["Location"] == reverse("accounts:recovery_codes") + "?next=%2Farbete%2F"
    assert TOTPDevice.objects.get(user=coordinator).confirmed
    assert client.cookies[settings.SESSION_COOKIE_NAME].value != old_key
    assert client.get(INBOX).status_code == 200


def test_with_an_app_a_wrong_code_is_refused_and_the_right_one_lets_them_in(client, coordinator, time_machine):
    time_machine.move_to(START, tick=False)
    device = give_device(coordinator)
    post_login(client, coordinator.email)
    response = client.get(reverse("workflows:agreements"))
    assert response["Location"] == f"{VERIFY}?next=%2Farbete%2Foverenskommelser%2F"

    wrong = f"{(int(code_for(device)) + 1) % 1_000_000:06d}"
    refused = client.post(VERIFY, {"code": wrong})
    assert refused.status_code == 400
    assert sv("The code is wrong or has expired. Enter the code that your app shows now.") in refused.content.decode()
    assert client.get(INBOX).status_code == 302

    # Straight after a wrong code even the right one must wait a moment (no guessing at speed).
    throttled = client.post(VERIFY, {"code": code_for(device)})
    assert throttled.status_code == 400
    with translation.override("sv"):
        wait = translation.ngettext(
            "Too many wrong codes. Wait %(seconds)d second and try again.",
            "Too many wrong codes. Wait %(seconds)d seconds and try again.",
            1,
        ) % {"seconds": 1}
    assert wait in throttled.content.decode()
    assert client.get(INBOX).status_code == 302

    time_machine.shift(dt.timedelta(seconds=2))
    old_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    accepted = client.post(VERIFY, {"code": code_for(device), "next": "/arbete/overenskommelser/"})
    assert accepted.status_code == 302
    assert accepted["Location"] == "/arbete/overenskommelser/"
    assert client.cookies[settings.SESSION_COOKIE_NAME].value != old_key
    assert client.get(INBOX).status_code == 200
    assert client.get(reverse("workflows:agreements")).status_code == 200


def test_a_code_cannot_be_used_twice(client, coordinator, time_machine):
    time_machine.move_to(START, tick=False)
    device = give_device(coordinator)
    post_login(client, coordinator.email)
    code = code_for(device)
    assert client.post(VERIFY, {"code": code}).status_code == 302
    client.post(reverse("logout"))
    post_login(client, coordinator.email)
    time_machine.shift(dt.timedelta(seconds=5))  # same 30-second step, past any throttling
    assert client.post(VERIFY, {"code": code}).status_code == 400
    assert client.get(INBOX).status_code == 302


def test_a_cultural_head_is_not_asked(client, mora_head):
    post_login(client, mora_head.email)
    assert client.get(INBOX).status_code == 200


def test_an_administrator_must_verify_before_the_administration(client, administrator):
    give_device(administrator)
    post_login(client, administrator.email)
    assert client.get(reverse("admin:index"))["Location"].startswith(VERIFY)
    verify_otp(client, administrator)
    assert client.get(reverse("admin:index")).status_code == 200


def test_logging_out_and_changing_language_work_before_the_code(client, coordinator):
    give_device(coordinator)
    post_login(client, coordinator.email)
    assert client.post(reverse("set_language"), {"language": "en", "next": VERIFY})["Location"] == VERIFY
    assert client.get(VERIFY).status_code == 200
    assert client.post(reverse("logout")).status_code == 302
    assert not is_logged_in(client)


def test_without_a_verified_session_no_second_app_can_be_added(client, coordinator, time_machine):
    """Someone who has only the password cannot swap in their own app."""
    time_machine.move_to(START, tick=False)
    device = give_device(coordinator)
    post_login(client, coordinator.email)
    assert client.get(SETUP)["Location"].startswith(VERIFY)
    assert client.post(SETUP, {"code": "123456"})["Location"].startswith(VERIFY)
    assert list(TOTPDevice.objects.filter(user=coordinator)) == [device]


def test_the_next_page_must_be_on_this_site(client, coordinator, time_machine):
    time_machine.move_to(START, tick=False)
    device = give_device(coordinator)
    post_login(client, coordinator.email)
    response = client.post(VERIFY, {"code": code_for(device), "next": "https://evil.example/"})
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_anyone_may_turn_it_on_and_off_voluntarily(client, mora_head, time_machine):
    time_machine.move_to(START, tick=False)
    post_login(client, mora_head.email)
    overview = client.get(reverse("accounts:two_factor"))
    assert overview.status_code == 200
    assert reverse("accounts:two_factor_setup") in overview.content.decode()

    enrol_by_email(client, mora_head)
    client.get(SETUP)
    response = client.post(SETUP, {"code": pending_code(client)})
    assert response["Location"] == reverse("accounts:recovery_codes")
    device = TOTPDevice.objects.get(user=mora_head, confirmed=True)

    # From now on they are asked for a code when they log in.
    client.post(reverse("logout"))
    post_login(client, mora_head.email)
    assert client.get(INBOX)["Location"].startswith(VERIFY)
    time_machine.shift(dt.timedelta(seconds=30))
    verify_otp(client, mora_head)
    assert client.get(INBOX).status_code == 200

    # They may turn it off again; a GET does not.
    assert client.get(reverse("accounts:two_factor_disable")).status_code == 405
    assert client.post(reverse("accounts:two_factor_disable")).status_code == 302
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()
    client.post(reverse("logout"))
    post_login(client, mora_head.email)
    assert client.get(INBOX).status_code == 200


def test_a_coordinator_cannot_turn_it_off(client, coordinator):
    give_device(coordinator)
    post_login(client, coordinator.email)
    verify_otp(client, coordinator)
    response = client.post(reverse("accounts:two_factor_disable"), follow=True)
    assert sv("Your role requires two-step verification, so it cannot be turned off.") in response.content.decode()
    assert TOTPDevice.objects.filter(user=coordinator, confirmed=True).exists()


def test_a_verified_user_may_change_to_a_new_app(client, coordinator, time_machine):
    time_machine.move_to(START, tick=False)
    old = give_device(coordinator)
    post_login(client, coordinator.email)
    verify_otp(client, coordinator)
    client.get(SETUP)
    time_machine.shift(dt.timedelta(seconds=30))
    assert client.post(SETUP, {"code": pending_code(client)}).status_code == 302
    devices = list(TOTPDevice.objects.filter(user=coordinator))
    assert len(devices) == 1 and devices[0].pk != old.pk


def test_the_test_and_demo_settings_do_not_require_it():
    """Other tests (and `make run`) sign coordinators in with a password only;
    production inherits the requirement from base.py."""
    import config.settings.base as base
    import config.settings.local as local
    import config.settings.test as test

    assert base.SAMVERKAN_REQUIRE_2FA_ROLES == ["coordinator", "administrator"]
    assert test.SAMVERKAN_REQUIRE_2FA_ROLES == []
    assert local.SAMVERKAN_REQUIRE_2FA_ROLES == []
