"""The audit log as a person reads it: the "Rad" column says what changed in
words, addresses without a mask, a sign-in is one sign-in event (no "Användare:
Ändrat" row beside it), and the CSV opens in Swedish Excel."""

import csv
import io

import pytest
from django.urls import reverse

from accounts.models import SignInEvent, User
from cases.models import Agreement, Stage
from tests.factories import agreement_in_stage
from tests.factories.accounts import PASSWORD
from tests.workflows.helpers import login

pytestmark = pytest.mark.django_db

LOG = reverse("workflows:audit_log")


def test_a_sign_in_writes_one_sign_in_event_and_no_user_history_row(client, falun_head):
    users_before = User.history.filter(id=falun_head.pk).count()
    events_before = SignInEvent.objects.filter(user=falun_head, kind="login").count()
    login(client, falun_head)
    assert User.history.filter(id=falun_head.pk).count() == users_before
    assert SignInEvent.objects.filter(user=falun_head, kind="login").count() == events_before + 1
    falun_head.refresh_from_db()
    assert falun_head.last_login is not None  # still noted, without a history row


def test_the_row_column_says_what_changed_in_words_and_addresses_have_no_mask(client, coordinator, auditor, mora_head):
    agreement = agreement_in_stage(Stage.REVIEW, coordinator=coordinator, head=mora_head)
    assert client.post("/login/", {"username": auditor.email, "password": PASSWORD}).status_code == 302
    response = client.get(LOG, {"kind": "cases.agreement", "agreement": agreement.pk})
    html = response.content.decode()
    assert response.status_code == 200
    rows = response.context["rows"]
    assert rows
    whats = [row.what for row in rows]
    assert f"Överenskommelse ”{agreement.case_number}”: skapad" in whats
    changed = [w for w in whats if "ändrat" in w]
    assert changed == [f"Överenskommelse ”{agreement.case_number}”: ändrat Skede"], whats
    assert "cases_historicalagreement" not in html.split("<tbody>", 1)[1].split("</tbody>", 1)[0].replace(
        'title="cases_historicalagreement', ""
    )
    # the sign-in row of the auditor: its address without /32, and no user row beside it
    response = client.get(LOG, {"user": auditor.pk})
    html = response.content.decode()
    assert "127.0.0.1" in html and "/32" not in html
    assert [row.kind for row in response.context["rows"]] == ["accounts.signinevent"]


def test_the_audit_csv_opens_in_swedish_excel_and_the_json_lines_are_as_before(client, coordinator, auditor, mora_head):
    agreement_in_stage(Stage.DRAFTING, coordinator=coordinator, head=mora_head)
    login(client, auditor)
    response = client.get(reverse("workflows:audit_export_csv"), {"kind": "cases.agreement"})
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")  # UTF-8 with a byte-order mark
    text = body.decode("utf-8-sig")
    header, *rows = csv.reader(io.StringIO(text), delimiter=";")
    assert header[:5] == ["Typ", "Tabell", "Rad-id", "Tid (UTC)", "Ändring (+ skapad, ~ ändrad, - borttagen)"]
    assert len(rows) == Agreement.history.count() and all(len(r) == len(header) for r in rows)
    jsonl = b"".join(client.get(reverse("workflows:audit_export_jsonl"), {"kind": "cases.agreement"}).streaming_content)
    first = jsonl.decode().splitlines()[0]
    assert first.startswith('{"kind" : "cases.agreement", "table" : ') or first.startswith('{"kind": "cases.agreement"')
