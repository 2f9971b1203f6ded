"""Exports of the filtered audit log: the CSV and the JSON Lines hold exactly
the rows that match (compared with direct queries of the tables), each with
its table, id and chain hash as stored; every export is itself recorded, shows
up in the log and keeps the chain intact; the download is streamed."""

import csv
import io
import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.http import StreamingHttpResponse
from django.urls import reverse

from cases.audit.models import AuditExport
from tests.factories import municipality
from tests.workflows.helpers import open_task

from .conftest import all_rows, both, by_municipality, by_time, by_user, rows_where
from .helpers import act_as, at

pytestmark = pytest.mark.django_db

CSV = reverse("workflows:audit_export_csv")
JSONL = reverse("workflows:audit_export_jsonl")


def download(client, url, params=None):
    response = client.get(url, params or {})
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    body = b"".join(response.streaming_content).decode("utf-8")  # the test client closes it at the end
    return response, body


def read_csv(body):
    """The rows as dicts keyed as the JSON Lines are (the header is in Swedish, the cells split by ';')."""
    from cases.audit.export import FIELDS

    assert body.startswith("\ufeff")  # so that spreadsheets read it as UTF-8
    header, *rows = csv.reader(io.StringIO(body[1:]), delimiter=";")
    assert header[:4] == ["Typ", "Tabell", "Rad-id", "Tid (UTC)"]
    return [dict(zip(FIELDS, row, strict=True)) for row in rows]


def stored(table, history_id):
    """(hash, user id, reason) of one row, straight from its table."""
    if table in ("accounts_signinevent", "audit_auditexport"):
        sql = f"SELECT chain_hash, user_id, NULL FROM {table} WHERE id = %s"  # noqa: S608
    else:
        sql = f"SELECT history_hash, history_user_id, history_change_reason FROM {table} WHERE history_id = %s"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [history_id])
        return cursor.fetchone()


def test_the_csv_export_holds_exactly_the_matching_rows_and_is_recorded(client, county, auditor, coordinator):
    mora = municipality("Mora")
    act_as(client, auditor)
    params = {"municipality": mora.pk, "date_from": "2026-03-01", "date_to": "2026-03-02"}
    response, body = download(client, CSV, params)
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="granskningslogg-')
    rows = read_csv(body)

    expected = rows_where(both(by_municipality(mora), by_time(at(0, 0, day=1), at(0, 0, day=3))))
    assert len(expected) > 15  # enough rows, from several tables, for the comparison to mean something
    assert len(rows) == len(expected)
    assert {(r["table"], int(r["history_id"])) for r in rows} == expected
    for row in rows:
        history_hash, user_id, reason = stored(row["table"], int(row["history_id"]))
        assert row["history_hash"] == history_hash and len(history_hash) == 64
        assert row["user_id"] == (str(user_id) if user_id else "")
        assert row["reason"] == (reason or "")
        assert row["municipality"] == "Mora" and row["municipality_id"] == str(mora.pk)
    assert {r["user_name"] for r in rows} >= {coordinator.full_name}
    dates = [r["history_date"] for r in rows]
    assert dates == sorted(dates, reverse=True)

    # The export is recorded: who, which filters, how many rows ...
    export = AuditExport.objects.get()
    assert (export.user, export.format, export.row_count, export.complete) == (auditor, "csv", len(rows), True)
    assert export.filters == {key: str(value) for key, value in params.items()}
    assert export.ip == "127.0.0.1"
    # ... it is in the log ...
    log = client.get(reverse("workflows:audit_log"), {"kind": "audit.auditexport"})
    assert [(r.kind, r.user_id, r.reason) for r in log.context["rows"]] == [("audit.auditexport", auditor.pk, "csv")]
    # ... and in the next export, with its own chain hash; the chains are intact.
    _response, body = download(client, CSV, {"kind": "audit.auditexport"})
    (recorded,) = read_csv(body)
    assert (recorded["table"], recorded["history_id"], recorded["history_hash"]) == (
        "audit_auditexport",
        str(export.pk),
        export.chain_hash,
    )
    assert json.loads(recorded["detail"]) == export.filters
    call_command("verify_audit", stdout=io.StringIO(), stderr=io.StringIO())  # exits non-zero when broken


def test_the_jsonl_export_holds_the_same_rows_as_the_csv(client, county, auditor, mora_head):
    act_as(client, auditor)
    params = {"user": mora_head.pk}
    _response, csv_body = download(client, CSV, params)
    response, body = download(client, JSONL, params)
    assert response["Content-Type"].startswith("application/jsonl")
    records = [json.loads(line) for line in body.splitlines()]
    assert body.endswith("\n") and len(records) == len(body.splitlines())
    expected = rows_where(by_user(mora_head))
    assert {(r["table"], r["history_id"]) for r in records} == expected
    as_text = [{k: "" if v is None else str(v) for k, v in record.items()} for record in records]
    assert as_text == read_csv(csv_body)
    assert all(r["user_id"] == mora_head.pk and r["user_name"] == mora_head.full_name for r in records)
    assert list(AuditExport.objects.order_by("at", "id").values_list("format", "row_count")) == [
        ("csv", len(records)),
        ("jsonl", len(records)),
    ]


def test_an_unfiltered_export_holds_every_row(client, county, auditor):
    act_as(client, auditor)
    before = all_rows()
    _response, body = download(client, JSONL)
    assert {(r["table"], r["history_id"]) for r in map(json.loads, body.splitlines())} == before
    assert AuditExport.objects.get().filters == {}


def due_date_moved_with_reason(client, county, coordinator, auditor, reason):
    """The coordinator moves a due date giving ``reason``; the auditor's filters
    for that change (the CSV and JSON Lines of them are then downloaded)."""
    falun = county["Falun"]
    review = open_task(falun, "review")
    act_as(client, coordinator)
    response = client.post(
        reverse("workflows:step_due_date", args=[falun.pk, review.pk]), {"due_on": "2026-04-30", "reason": reason}
    )
    assert response.status_code == 302
    act_as(client, auditor)
    return {"kind": "workflows.taskdeadline", "user": coordinator.pk, "date_from": "2026-03-03"}


def test_a_cell_that_a_spreadsheet_would_run_is_defused_in_the_csv_only(client, coordinator, auditor, county):
    formula = '=HYPERLINK("http://example.com")'
    params = due_date_moved_with_reason(client, county, coordinator, auditor, formula)
    _response, body = download(client, CSV, params)
    assert [r["reason"] for r in read_csv(body) if r["history_type"] == "~"] == ["'" + formula]
    _response, body = download(client, JSONL, params)
    assert [r["reason"] for r in map(json.loads, body.splitlines()) if r["history_type"] == "~"] == [formula]


def test_the_export_streams_in_batches(client, county, auditor, monkeypatch):
    """The rows are written out a batch at a time, as they are read from the
    server-side cursor, not gathered first."""
    from cases.audit import export

    monkeypatch.setattr(export, "ROWS_PER_WRITE", 10)
    act_as(client, auditor)
    response = client.get(JSONL)
    chunks = list(response.streaming_content)
    lines = b"".join(chunks).decode().splitlines()
    assert len(lines) > 50
    assert len(chunks) == -(-(len(lines) + 1) // 10)  # the empty header line and the rows, ten at a time
    assert AuditExport.objects.get().row_count == len(lines)


def test_a_reason_with_quotes_and_line_breaks_is_one_csv_row_as_written(client, coordinator, auditor, county):
    reason = 'Nämnden flyttade mötet;\n"ny tid", se protokoll\r\nrad tre'
    params = due_date_moved_with_reason(client, county, coordinator, auditor, reason)
    _response, body = download(client, CSV, params)
    rows = read_csv(body)
    assert [r["reason"] for r in rows if r["history_type"] == "~"] == [reason]
    assert AuditExport.objects.get().row_count == len(rows)


def test_a_download_broken_off_is_recorded_as_incomplete(client, rf, county, auditor, monkeypatch):
    """As a WSGI server serves it: the response is iterated, then closed when the client goes away."""
    from django.core import signals
    from django.db import close_old_connections

    from cases.audit import export
    from workflows.views.audit import audit_export

    monkeypatch.setattr(export, "ROWS_PER_WRITE", 10)
    request = rf.get(CSV)
    request.user = auditor
    response = audit_export(request, "csv")
    first = next(iter(response))
    assert first.startswith("\ufeffTyp;Tabell;".encode())
    # The server closes the response (leaving the test's database connection open, as Django's test
    # client does when a download ends; a server keeps it when it is still usable).
    signals.request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        signals.request_finished.connect(close_old_connections)
    recorded = AuditExport.objects.get()
    assert (recorded.complete, recorded.row_count) == (False, 9)  # the header and nine rows were sent
    # The snapshot was ended cleanly: the same connection serves the next request.
    act_as(client, auditor)
    assert client.get(reverse("workflows:audit_log")).status_code == 200


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_the_python_writer_of_the_sqlite_demo_writes_what_postgresql_writes(county, auditor, fmt):
    """On PostgreSQL the database writes the lines; on SQLite (make run) Python does: the same records."""
    from cases.audit import export, log

    filters = log.LogFilters()
    written = list(export._written_lines(filters, fmt, "default"))
    header, _line = export._encoder(fmt)
    assert written[0] == header().encode()
    by_python = b"".join(written[1:]).decode()
    by_database = b"".join(export._database_lines(filters, fmt, "default")).decode()
    if fmt == "csv":
        assert list(csv.reader(io.StringIO(by_python), delimiter=";")) == list(
            csv.reader(io.StringIO(by_database), delimiter=";")
        )
    else:
        assert [json.loads(x) for x in by_python.splitlines()] == [json.loads(x) for x in by_database.splitlines()]
    assert len(by_database.splitlines()) > 50
