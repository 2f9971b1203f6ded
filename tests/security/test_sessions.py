"""Sessions: a new key at login (no fixation), access that ends or narrows at
the next request when a user is deactivated or a membership ends, a 30-minute
idle timeout, and the password rules."""

import datetime as dt

import pytest
from django.conf import settings
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.models import Membership
from accounts.services import membership_end, user_deactivate
from cases.models import Stage
from tests.factories import agreement_in_stage
from tests.security.helpers import is_logged_in, post_login

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def mora_agreement(coordinator, mora_head):
    return agreement_in_stage(Stage.REVIEW, "Mora", coordinator=coordinator, head=mora_head, title="Kultur i Mora")


def agreement_url(agreement):
    return reverse("workflows:agreement", args=[agreement.pk])


def goes_to_login(response):
    return response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.usefixtures("axes_on")
def test_the_session_key_changes_at_login(client, mora_head):
    session = client.session  # an anonymous session, as a visitor may have been handed one
    session["seen"] = True
    session.save()
    before = client.cookies[settings.SESSION_COOKIE_NAME].value

    assert post_login(client, mora_head.email).status_code == 302

    after = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()
    assert is_logged_in(client)


def test_a_deactivated_user_is_logged_out_at_the_next_request(client, coordinator, mora_head, mora_agreement):
    post_login(client, mora_head.email)
    assert client.get(agreement_url(mora_agreement)).status_code == 200

    user_deactivate(actor=coordinator, user=mora_head, reason="Har slutat")

    response = client.get(agreement_url(mora_agreement))
    assert goes_to_login(response)
    assert goes_to_login(client.get(reverse("workflows:inbox")))
    # and a POST is refused the same way, with nothing changed
    assert goes_to_login(client.post(agreement_url(mora_agreement)))


def test_an_ended_membership_narrows_access_at_the_next_request(client, coordinator, mora_head, mora_agreement):
    post_login(client, mora_head.email)
    assert client.get(agreement_url(mora_agreement)).status_code == 200
    assert "Kultur i Mora" in client.get(reverse("workflows:agreements")).content.decode()

    membership = Membership.objects.get(user=mora_head, is_active=True)
    membership_end(actor=coordinator, membership=membership, reason="Ny tjänst")

    assert client.get(agreement_url(mora_agreement)).status_code in (403, 404)
    listing = client.get(reverse("workflows:agreements"))
    assert "Kultur i Mora" not in listing.content.decode()


def test_a_cultural_head_never_sees_another_municipalitys_agreement(client, falun_head, mora_agreement):
    post_login(client, falun_head.email)
    assert client.get(agreement_url(mora_agreement)).status_code in (403, 404)
    assert "Kultur i Mora" not in client.get(reverse("workflows:agreements")).content.decode()


def test_after_31_idle_minutes_the_next_request_goes_to_the_login_page(client, mora_head, time_machine):
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    time_machine.move_to(START, tick=False)
    post_login(client, mora_head.email)
    assert client.get(reverse("workflows:inbox")).status_code == 200

    time_machine.shift(dt.timedelta(minutes=31))
    response = client.get(reverse("workflows:inbox"))
    assert goes_to_login(response)
    assert "next=" in response["Location"]


def test_activity_within_the_window_keeps_the_session(client, mora_head, time_machine):
    time_machine.move_to(START, tick=False)
    post_login(client, mora_head.email)
    for _ in range(3):  # 75 minutes in all, never 30 minutes idle
        time_machine.shift(dt.timedelta(minutes=25))
        assert client.get(reverse("workflows:inbox")).status_code == 200
    time_machine.shift(dt.timedelta(minutes=29))
    assert client.get(reverse("workflows:inbox")).status_code == 200
    time_machine.shift(dt.timedelta(minutes=30, seconds=1))
    assert goes_to_login(client.get(reverse("workflows:inbox")))


def test_logging_out_ends_the_session_on_the_server(client, mora_head):
    post_login(client, mora_head.email)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    client.post(reverse("logout"))
    assert not Session.objects.filter(session_key=key).exists()


def test_passwords_shorter_than_ten_characters_are_refused(mora_head):
    with pytest.raises(ValidationError) as error:
        validate_password("Kx9#mq2!p", user=mora_head)  # nine characters
    assert "password_too_short" in [e.code for e in error.value.error_list]
    validate_password("Kx9#mq2!pZ", user=mora_head)  # ten are enough

    form = SetPasswordForm(mora_head, {"new_password1": "Kx9#mq2!p", "new_password2": "Kx9#mq2!p"})
    assert not form.is_valid()
    assert "password_too_short" in [e.code for e in form.errors.as_data()["new_password2"]]


def test_common_and_numeric_passwords_are_refused(mora_head):
    for password in ("password123", "12345678901"):
        with pytest.raises(ValidationError):
            validate_password(password, user=mora_head)
