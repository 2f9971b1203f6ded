"""Exports of the audit log as CSV or JSON Lines, streamed with constant memory.

The rows are read through a server-side cursor (``log.stream_values``) inside one
REPEATABLE READ, READ ONLY transaction, so an export is one consistent
snapshot however long the download takes, and are written out a batch at a
time: a million rows never sit in memory. Each row carries the table it comes
from, its id and its chain hash, so any row can be checked against the chain
that ``manage.py verify_audit`` verifies.

Every export is itself recorded (``AuditExport``: who, when, from where, which
filters, which format, how many rows, whether the download completed), after
the last row has been sent or when the download breaks off. The record is
written after the snapshot has ended, in a READ COMMITTED transaction, as the
hash chain requires; it is not part of the export it records.
"""

import csv
import json
import logging

from django.db import connections, transaction

from . import log
from .models import AuditExport

logger = logging.getLogger(__name__)

FIELDS = (
    "kind",
    "table",
    "history_id",
    "history_date",
    "history_type",
    "user_id",
    "user_email",
    "user_name",
    "reason",
    "detail",
    "ip",
    "task_id",
    "object_id",
    "agreement_id",
    "case_number",
    "municipality_id",
    "municipality",
    "plan_period_id",
    "history_hash",
)
# Free text that a spreadsheet could take for a formula (CSV injection): such
# cells get a leading apostrophe in the CSV export. JSON Lines are verbatim.
TEXT_FIELDS = frozenset({"user_email", "user_name", "reason", "detail", "case_number", "municipality"})
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

CONTENT_TYPES = {
    AuditExport.Format.CSV: "text/csv; charset=utf-8",
    AuditExport.Format.JSONL: "application/jsonl; charset=utf-8",
}
ROWS_PER_WRITE = 500


def as_values(values, tables) -> list:
    """One row of ``log.stream_values`` as the exported fields, in FIELDS' order.

    Straight from the database tuple (no LogRow, no dict): at a million rows
    the per-row objects were most of the export's time. ``tables`` caches each
    kind's table name."""
    (
        kind,
        _rank,
        history_id,
        history_date,
        history_type,
        user_id,
        reason,
        detail,
        ip,
        task_id,
        object_id,
        agreement_id,
        municipality_id,
        plan_period_id,
        row_hash,
        user_email,
        user_name,
        case_number,
        municipality_name,
    ) = values
    table = tables.get(kind)
    if table is None:
        table = tables[kind] = log.source(kind).table
    return [
        kind,
        table,
        history_id,
        log.as_datetime(history_date).isoformat(),
        history_type,
        user_id,
        user_email,
        user_name,
        reason,
        detail,
        ip,
        task_id,
        object_id,
        agreement_id,
        case_number,
        municipality_id,
        municipality_name,
        plan_period_id,
        row_hash,
    ]


# Positions of the free-text fields in FIELDS (CSV injection guard).
_TEXT_POSITIONS = tuple(i for i, name in enumerate(FIELDS) if name in TEXT_FIELDS)


class _Line:
    """A file-like object for csv.writer that hands back what is written."""

    def write(self, value):
        return value


def _encoder(fmt):
    if fmt == AuditExport.Format.CSV:
        writer = csv.writer(_Line())  # writes None as an empty cell

        def header():
            return "\ufeff" + writer.writerow(FIELDS)  # the BOM tells spreadsheets it is UTF-8

        def line(values):
            for i in _TEXT_POSITIONS:
                value = values[i]
                if value and value.startswith(FORMULA_START):
                    values[i] = "'" + value
            return writer.writerow(values)

        return header, line

    def line(values):
        return json.dumps(dict(zip(FIELDS, values, strict=True)), ensure_ascii=False) + "\n"

    return (lambda: ""), line


def stream_export(*, filters: log.LogFilters, fmt, actor, ip=None, chunk_size=2000, using="default"):
    """Yield the export of the filtered log, ``fmt`` "csv" or "jsonl", as bytes;
    record it (AuditExport) when it ends."""
    fmt = AuditExport.Format(fmt)
    header, line = _encoder(fmt)
    connection = connections[using]
    count = 0
    complete = False
    try:
        outermost = not connection.in_atomic_block
        with transaction.atomic(using=using):
            if outermost and connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            lines = [header()]
            tables = {}
            for values in log.stream_values(filters, chunk_size=chunk_size, using=using):
                lines.append(line(as_values(values, tables)))
                count += 1
                if len(lines) >= ROWS_PER_WRITE:
                    yield "".join(lines).encode()
                    lines = []
            if lines:
                yield "".join(lines).encode()
        complete = True
    finally:
        try:
            AuditExport.objects.using(using).create(
                user=actor, format=fmt, filters=filters.extra, row_count=count, complete=complete, ip=ip
            )
        except Exception:  # the download is over either way; the failure must be seen
            logger.exception("The export of the audit log by %s (%s rows) could not be recorded.", actor, count)
            raise
