"""Setting up two-step verification cannot be hijacked with a password alone:
the first app needs a one-time link from the account's mailbox or a one-time
code from an administrator. Recovery codes, and an administrator's reset."""

import datetime as dt
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.test import Client, TestCase
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import two_factor
from accounts.models import EnrolmentToken, RecoveryCode, SignInEvent
from background.mail import deliver_due
from tests.security.helpers import (
    enrol_by_email,
    enrolment_link_from_outbox,
    give_device,
    is_logged_in,
    pending_code,
    post_login,
    verify_otp,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("two_factor_on")]

INBOX = "/arbete/"
SETUP = reverse("accounts:two_factor_setup")
VERIFY = reverse("accounts:two_factor_verify")
REQUEST_LINK = reverse("accounts:enrolment_request")
START = dt.datetime(2026, 3, 2, 9, 0, 10, tzinfo=dt.UTC)


def admin_client(administrator):
    client = Client()
    client.force_login(administrator)
    verify_otp(client, administrator)
    return client


def test_someone_with_only_the_password_cannot_set_up_the_app(client, coordinator, time_machine):
    """The hijack: the attacker knows the coordinator's password and logs in
    before the coordinator has set up an app. They must not become the one
    whose phone gives the codes."""
    time_machine.move_to(START, tick=False)
    attacker = client
    post_login(attacker, coordinator.email)
    assert attacker.get(INBOX)["Location"].startswith(SETUP)

    # No secret is shown, and no code is accepted, whatever the attacker posts.
    gate = attacker.get(SETUP)
    assert gate.status_code == 200
    assert two_factor.PENDING_KEY_SESSION_KEY not in attacker.session
    assert "otpauth://" not in gate.content.decode() and "data:image/svg" not in gate.content.decode()
    for code in ("000000", "123456"):
        assert attacker.post(SETUP, {"code": code}).status_code == 400
    assert attacker.post(SETUP, {"enrolment_code": "ABCDE-23456"}).status_code == 400

    # Asking for a link sends it to the owner's mailbox, not to the attacker.
    with TestCase.captureOnCommitCallbacks(execute=True):
        attacker.post(REQUEST_LINK)
    deliver_due()
    assert [m.to for m in mail.outbox] == [[coordinator.email]]
    link = urlsplit(enrolment_link_from_outbox(coordinator)).path

    # Without the link the attacker still cannot set up an app; guessing links leads nowhere.
    assert "otpauth://" not in attacker.get(SETUP).content.decode()
    assert attacker.get(reverse("accounts:enrolment_link", args=["guessed-token"])).status_code == 404
    assert not TOTPDevice.objects.filter(user=coordinator).exists()
    assert attacker.get(INBOX).status_code == 302

    # The owner, from their own mailbox, in their own browser, sets up their app.
    owner = Client()
    post_login(owner, coordinator.email)
    assert owner.get(link).status_code == 200
    assert owner.post(link)["Location"] == SETUP
    owner.get(SETUP)
    assert owner.post(SETUP, {"code": pending_code(owner)}).status_code == 302
    assert TOTPDevice.objects.filter(user=coordinator, confirmed=True).count() == 1
    assert owner.get(INBOX).status_code == 200
    # The attacker's session now meets the owner's app and cannot pass it.
    assert attacker.get(INBOX).status_code == 302
    assert attacker.get(SETUP)["Location"].startswith(VERIFY)
    assert attacker.post(SETUP, {"enrolment_code": "ABCDE-23456"})["Location"].startswith(VERIFY)
    assert TOTPDevice.objects.filter(user=coordinator).count() == 1


def test_the_link_works_once_and_expires(client, coordinator, time_machine, settings):
    time_machine.move_to(START, tick=False)
    settings.ENROLMENT_LINK_MINUTES = 10
    post_login(client, coordinator.email)
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(REQUEST_LINK)
    link = urlsplit(enrolment_link_from_outbox(coordinator)).path
    token = EnrolmentToken.objects.get(user=coordinator)
    assert len(token.token_hash) == 64 and link.rstrip("/").rsplit("/", 1)[-1] not in token.token_hash

    # Opening it (as a mail scanner does) uses nothing up; it expires (ENROLMENT_LINK_MINUTES).
    assert client.get(link).status_code == 200
    time_machine.shift(dt.timedelta(minutes=11))
    assert client.get(link).status_code == 404
    assert client.post(link).status_code == 404
    assert "otpauth://" not in client.get(SETUP).content.decode()

    # A new one works once.
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(REQUEST_LINK)
    fresh = urlsplit(enrolment_link_from_outbox(coordinator)).path
    assert client.post(fresh)["Location"] == SETUP
    assert client.post(fresh).status_code == 404


def test_a_newer_link_replaces_the_older_and_links_are_not_sent_in_a_stream(client, coordinator, time_machine):
    time_machine.move_to(START, tick=False)
    post_login(client, coordinator.email)
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(REQUEST_LINK)
        client.post(REQUEST_LINK)  # within the minute: nothing more is sent
    deliver_due()
    assert len(mail.outbox) == 1
    first = urlsplit(enrolment_link_from_outbox(coordinator)).path
    time_machine.shift(dt.timedelta(seconds=61))
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(REQUEST_LINK)
    second = urlsplit(enrolment_link_from_outbox(coordinator)).path
    assert first != second
    assert client.post(first).status_code == 404
    assert client.post(second).status_code == 302


def test_a_link_is_for_its_own_account_only(client, coordinator, mora_head):
    post_login(client, coordinator.email)
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(REQUEST_LINK)
    link = urlsplit(enrolment_link_from_outbox(coordinator)).path
    other = Client()
    post_login(other, mora_head.email)
    assert other.get(link).status_code == 404
    assert other.post(link).status_code == 404
    assert client.post(link).status_code == 302  # not used up by the other account
    # Signed out, the link asks for a login first.
    anonymous = Client()
    assert anonymous.get(link)["Location"].startswith(reverse("login"))


def test_an_administrator_hands_out_a_one_time_code(client, coordinator, administrator):
    admin = admin_client(administrator)
    page = reverse("admin:accounts_user_two_factor", args=[coordinator.pk])
    assert admin.post(page, {"action": "code", "reason": ""}).status_code == 400
    response = admin.post(page, {"action": "code", "reason": "Ny telefon, kontrollerad per telefon"})
    assert response.status_code == 200
    code = response.context["code"]
    assert code in response.content.decode()
    assert EnrolmentToken.objects.get(user=coordinator, kind="code").created_by == administrator
    history = coordinator.history.first()
    assert history.history_user == administrator
    assert "Ny telefon, kontrollerad per telefon" in history.history_change_reason

    post_login(client, coordinator.email)
    assert client.post(SETUP, {"enrolment_code": "WRONG-CODE0"}).status_code == 400
    response = client.post(SETUP, {"enrolment_code": code.lower()})
    assert response["Location"] == SETUP
    assert EnrolmentToken.objects.get(user=coordinator, kind="code").used_at is not None
    # Used: it works no more, not even for the same account in another browser.
    again = Client()
    post_login(again, coordinator.email)
    assert again.post(SETUP, {"enrolment_code": code}).status_code == 400

    client.get(SETUP)
    assert client.post(SETUP, {"code": pending_code(client)}).status_code == 302
    assert TOTPDevice.objects.filter(user=coordinator, confirmed=True).exists()


def test_wrong_enrolment_codes_are_limited(client, coordinator, administrator, time_machine, history_keeps_client_time):
    time_machine.move_to(START, tick=False)
    admin = admin_client(administrator)
    code = admin.post(
        reverse("admin:accounts_user_two_factor", args=[coordinator.pk]), {"action": "code", "reason": "Ny"}
    ).context["code"]
    post_login(client, coordinator.email)
    for _try in range(5):
        assert client.post(SETUP, {"enrolment_code": "AAAAA-AAAAA"}).status_code == 400
    assert SignInEvent.objects.filter(user=coordinator, method="enrolment_code").count() == 5
    refused = client.post(SETUP, {"enrolment_code": code})
    assert refused.status_code == 400 and "Vänta en kvart" in refused.content.decode()
    time_machine.shift(dt.timedelta(minutes=16))
    assert client.post(SETUP, {"enrolment_code": code})["Location"] == SETUP


def test_recovery_codes_are_shown_once_and_each_works_once(client, mora_head, time_machine):
    time_machine.move_to(START, tick=False)
    post_login(client, mora_head.email)
    enrol_by_email(client, mora_head)
    client.get(SETUP)
    response = client.post(SETUP, {"code": pending_code(client)})
    shown = client.get(response["Location"])
    codes = shown.context["codes"]
    assert len(codes) == 10 and all(code in shown.content.decode() for code in codes)
    assert client.get(reverse("accounts:recovery_codes")).context["codes"] is None  # only once
    assert RecoveryCode.objects.filter(user=mora_head).count() == 10
    assert not any(code in r.code_hash for r in RecoveryCode.objects.all() for code in codes)

    # The phone is lost: a recovery code instead of the app's code.
    recovery = reverse("accounts:two_factor_recovery")
    for attempt in range(2):
        client.post(reverse("logout"))
        post_login(client, mora_head.email)
        assert client.get(INBOX)["Location"].startswith(VERIFY)
        response = client.post(recovery, {"recovery_code": codes[0]})
        if attempt == 0:
            assert response.status_code == 302
            assert client.get(INBOX).status_code == 200
        else:
            assert response.status_code == 400  # used already
            assert client.get(INBOX).status_code == 302
    assert client.post(recovery, {"recovery_code": codes[1]}).status_code == 302
    # Past the second step this way, they may set up a new app.
    client.get(SETUP)
    time_machine.shift(dt.timedelta(seconds=30))
    assert client.post(SETUP, {"code": pending_code(client)}).status_code == 302


def test_an_administrator_resets_with_a_reason_and_the_user_is_told(administrator, coordinator):
    give_device(coordinator)
    RecoveryCode.objects.create(user=coordinator, code_hash="x" * 64)
    admin = admin_client(administrator)
    page = reverse("admin:accounts_user_two_factor", args=[coordinator.pk])
    assert admin.get(page).status_code == 200

    assert admin.post(page, {"action": "reset", "reason": "  "}).status_code == 400
    assert TOTPDevice.objects.filter(user=coordinator).exists()

    with TestCase.captureOnCommitCallbacks(execute=True):
        response = admin.post(page, {"action": "reset", "reason": "Tappad telefon, identitet kontrollerad"})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=coordinator).exists()
    assert not RecoveryCode.objects.filter(user=coordinator).exists()
    history = coordinator.history.first()
    assert history.history_user == administrator
    assert "Tappad telefon, identitet kontrollerad" in history.history_change_reason
    deliver_due()
    (message,) = mail.outbox
    assert message.to == [coordinator.email]
    assert "Tappad telefon, identitet kontrollerad" in message.body
    assert administrator.full_name in message.body

    # At the next sign-in the coordinator sets up a new app, with a link or code again.
    user = Client()
    post_login(user, coordinator.email)
    assert is_logged_in(user)
    assert user.get(INBOX)["Location"].startswith(SETUP)
    assert "otpauth://" not in user.get(SETUP).content.decode()


def test_only_administrators_reach_the_reset_page(client, coordinator, mora_head):
    page = reverse("admin:accounts_user_two_factor", args=[mora_head.pk])
    rows = mora_head.history.count()
    client.force_login(coordinator)
    verify_otp(client, coordinator)
    assert client.get(page).status_code == 302  # to the administration's login
    assert client.post(page, {"action": "reset", "reason": "x"}).status_code == 302
    assert mora_head.history.count() == rows
    assert not EnrolmentToken.objects.exists()
