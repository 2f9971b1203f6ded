"""Sign-ins, sign-outs and failed sign-ins are recorded, append-only and
chained; the password tried is never stored."""

import pytest
from django.db import DatabaseError, transaction

from accounts.models import SignInEvent
from tests.factories.accounts import PASSWORD

from .conftest import run_sql, verify

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"


def events():
    return list(SignInEvent.objects.order_by("id"))


def test_login_and_logout_are_recorded(client, falun_head):
    response = client.post("/login/", {"username": falun_head.email, "password": PASSWORD}, HTTP_USER_AGENT=BROWSER)
    assert response.status_code == 302
    client.post("/logout/", HTTP_USER_AGENT=BROWSER)

    login, logout = events()
    assert (login.kind, login.user, login.email) == ("login", falun_head, falun_head.email)
    assert (logout.kind, logout.user) == ("logout", falun_head)
    for event in (login, logout):
        assert event.ip == "127.0.0.1"
        assert event.user_agent == BROWSER
        assert len(event.chain_hash) == 64
    assert login.at <= logout.at


def test_a_failed_login_stores_the_email_but_never_the_password(client, falun_head):
    wrong_password = "Fel-lösenord-4711"
    response = client.post("/login/", {"username": falun_head.email.upper(), "password": wrong_password})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session

    (event,) = events()
    assert event.kind == "failed"
    assert event.email == falun_head.email.upper()
    assert event.user == falun_head  # the account that was tried
    # Nowhere in the row, in any form.
    row = run_sql("SELECT to_jsonb(e)::text FROM accounts_signinevent AS e WHERE id = %s", [event.pk])[0][0]
    assert wrong_password not in row
    assert "*****" not in row


def test_a_failed_login_for_an_unknown_email_is_recorded_without_a_user(client, db):
    client.post("/login/", {"username": "okand@example.se", "password": "vad-som-helst-123"})
    (event,) = events()
    assert (event.kind, event.email, event.user) == ("failed", "okand@example.se", None)


def test_signing_out_when_not_signed_in_is_no_event(client, db):
    client.post("/logout/")
    assert events() == []


def test_sign_in_events_cannot_be_changed_or_removed_in_the_database(client, falun_head):
    client.post("/login/", {"username": falun_head.email, "password": "fel"})
    run_sql("SET CONSTRAINTS ALL IMMEDIATE")  # else TRUNCATE fails on the test's pending foreign-key checks
    for statement in (
        "UPDATE accounts_signinevent SET email = 'someone@else.se'",
        "DELETE FROM accounts_signinevent",
        "TRUNCATE accounts_signinevent",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            run_sql(statement)
    assert SignInEvent.objects.get().email == falun_head.email


def test_sign_in_events_are_a_verified_chain(client, falun_head):
    client.post("/login/", {"username": falun_head.email, "password": "fel"})
    client.post("/login/", {"username": falun_head.email, "password": PASSWORD})
    client.post("/logout/")
    assert [e.kind for e in events()] == ["failed", "login", "logout"]
    code, out, _err = verify()
    assert code == 0
    assert "ok accounts_signinevent: 3 rows" in out
