"""Exports of the audit log as CSV or JSON Lines, streamed with constant memory.

The rows are read inside one REPEATABLE READ, READ ONLY transaction, so an
export is one consistent snapshot however long the download takes, and are
written out a batch at a time: a million rows never sit in memory. Each row
carries the table it comes from, its id and its chain hash, so any row can be
checked against the chain that ``manage.py verify_audit`` verifies.

The CSV is for people with a spreadsheet: Swedish headers, semicolons, a
byte-order mark (Excel with Swedish settings opens it as it is). The JSON
Lines are for programs: FIELDS as keys, unchanged.

On PostgreSQL the lines are written by the database itself: the CSV by ``COPY
(…) TO STDOUT WITH (FORMAT csv, DELIMITER ';')``, each JSON line by ``json_build_object``.
Python only passes them on, about 1–5 µs a row instead of the 15–25 µs it
took to convert, check and write each row here (measured on 1.36 million
rows). On SQLite (the demo) they are written here from the tuples of a
server-side cursor (``log.stream_values``), every value formatted the same way
(times in UTC with microseconds, the CSV-injection guard on the same columns).

Every export is itself recorded (``AuditExport``: who, when, from where, which
filters, which format, how many rows, whether the download completed), after
the last row has been sent or when the download breaks off. The record is
written after the snapshot has ended, in a READ COMMITTED transaction, as the
hash chain requires; it is not part of the export it records.
"""

import csv
import datetime
import json
import logging
from contextlib import closing

from django.db import connections, transaction
from django.utils.translation import gettext_lazy

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
# The CSV's header: words a person reads, in the UI's language (Swedish), the
# time's zone named. The JSON Lines keep FIELDS as their keys: a program reads them.
HEADERS = {
    "kind": gettext_lazy("Kind"),
    "table": gettext_lazy("Table"),
    "history_id": gettext_lazy("Row id"),
    "history_date": gettext_lazy("Time (UTC)"),
    "history_type": gettext_lazy("Change (+ created, ~ changed, - removed)"),
    "user_id": gettext_lazy("User id"),
    "user_email": gettext_lazy("E-mail"),
    "user_name": gettext_lazy("Who"),
    "reason": gettext_lazy("Why"),
    "detail": gettext_lazy("Detail"),
    "ip": gettext_lazy("Address"),
    "task_id": gettext_lazy("Step id"),
    "object_id": gettext_lazy("Object id"),
    "agreement_id": gettext_lazy("Agreement id"),
    "case_number": gettext_lazy("Case number"),
    "municipality_id": gettext_lazy("Municipality id"),
    "municipality": gettext_lazy("Municipality"),
    "plan_period_id": gettext_lazy("Plan period id"),
    "history_hash": gettext_lazy("Chain hash"),
}
# Semicolons between the cells, as Excel with Swedish settings expects (the
# decimal comma makes it split on ";"), and a byte-order mark: it opens without
# an import dialogue, like the county's CSV.
CSV_DELIMITER = ";"
# Free text that a spreadsheet could take for a formula (CSV injection): such
# cells get a leading apostrophe in the CSV export. JSON Lines are verbatim.
TEXT_FIELDS = frozenset({"user_email", "user_name", "reason", "detail", "case_number", "municipality"})
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# Times as ISO 8601 in UTC, always with microseconds: Python's and PostgreSQL's spelling of one format.
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S.%f+00:00"
SQL_DATE_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'

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
        log.as_datetime(history_date).astimezone(datetime.UTC).strftime(DATE_FORMAT),
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
        # writes None as an empty cell; lines as COPY ends them
        writer = csv.writer(_Line(), lineterminator="\n", delimiter=CSV_DELIMITER)

        def header():
            # the BOM tells spreadsheets it is UTF-8
            return "\ufeff" + writer.writerow([str(HEADERS[name]) for name in FIELDS])

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


def _export_sql(filters: log.LogFilters, fmt, using):
    """(sql, params) of the export written by PostgreSQL: for CSV a ``COPY``
    that sends the CSV lines, for JSON Lines a query of one JSON text per row;
    the same columns, formats and guard as ``as_values`` and ``_encoder``."""
    connection = connections[using]
    quote = connection.ops.quote_name
    sql, params = log.log_sql(filters, using=using)

    def column(name):
        return "e." + quote(log.PREFIX + name)

    def guarded(expression):  # a leading formula character gets an apostrophe (CSV injection)
        starts = ", ".join(f"chr({ord(c)})" for c in FORMULA_START)
        return f"CASE WHEN left({expression}, 1) IN ({starts}) THEN chr(39) || {expression} ELSE {expression} END"

    kinds = log.sources()
    expressions = {
        "kind": column("kind"),
        # The only expression with parameters: each source's key and table.
        "table": "CASE " + column("kind") + " " + " ".join("WHEN %s THEN %s" for _src in kinds) + " END",
        "history_id": column("history_id"),
        "history_date": f"to_char({column('history_date')} AT TIME ZONE 'UTC', '{SQL_DATE_FORMAT}')",
        "history_type": column("history_type"),
        "user_id": column("user_id"),
        "user_email": "e." + quote("email"),
        "user_name": "e." + quote("full_name"),
        "reason": column("reason"),
        "detail": column("detail"),
        "ip": column("ip"),
        "task_id": column("task_id"),
        "object_id": column("object_id"),
        "agreement_id": column("agreement_id"),
        "case_number": "e." + quote("case_number"),
        "municipality_id": column("municipality_id"),
        "municipality": "e." + quote("name"),
        "plan_period_id": column("plan_period_id"),
        "history_hash": column("row_hash"),
    }
    table_params = [value for src in kinds for value in (src.key, src.table)]
    select, select_params = [], []
    for name in FIELDS:
        expression = expressions[name]
        if fmt == AuditExport.Format.CSV:
            select.append(guarded(expression) if name in TEXT_FIELDS else expression)
        else:  # json_build_object(key, value, …)
            select.append(f"%s, {expression}")
            select_params.append(name)
        if name == "table":
            select_params += table_params
    order = f"{column('history_date')} DESC, {column('rank')} DESC, {column('history_id')} DESC"
    if fmt == AuditExport.Format.CSV:
        query = f"SELECT {', '.join(select)} FROM ({sql}) e ORDER BY {order}"  # noqa: S608
        # Identifiers from model metadata, quoted; every value is a parameter.
        return f"COPY ({query}) TO STDOUT WITH (FORMAT csv, DELIMITER '{CSV_DELIMITER}')", [*select_params, *params]
    query = f"SELECT json_build_object({', '.join(select)})::text FROM ({sql}) e ORDER BY {order}"  # noqa: S608
    return query, [*select_params, *params]


def _database_lines(filters, fmt, using):
    """The lines as PostgreSQL writes them: the CSV through COPY (one message
    per row), the JSON texts through a server-side cursor."""
    sql, params = _export_sql(filters, fmt, using)
    connection = connections[using]
    if fmt == AuditExport.Format.CSV:
        with connection.cursor() as cursor, cursor.cursor.copy(sql, params) as copy:
            for data in copy:
                yield bytes(data)
        return
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while chunk := cursor.fetchmany(2000):
            for (text,) in chunk:
                yield text.encode() + b"\n"


def _written_lines(filters, fmt, using):
    header, line = _encoder(fmt)
    yield header().encode()
    tables = {}
    for values in log.stream_values(filters, using=using):
        yield line(as_values(values, tables)).encode()


def stream_export(*, filters: log.LogFilters, fmt, actor, ip=None, using="default"):
    """Yield the export of the filtered log, ``fmt`` "csv" or "jsonl", as bytes;
    record it (AuditExport) when it ends."""
    fmt = AuditExport.Format(fmt)
    connection = connections[using]
    count = 0
    complete = False
    try:
        outermost = not connection.in_atomic_block
        with transaction.atomic(using=using):
            if outermost and connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    # The export sorts the whole log once: PostgreSQL's JIT spent 3.3 s compiling that query,
                    # and with the default work_mem the sort spilled 390 MB to disk (1.36 million rows).
                    cursor.execute("SET LOCAL jit = off")
                    cursor.execute("SET LOCAL work_mem = '64MB'")
            if connection.vendor == "postgresql":
                header, _line = _encoder(fmt)
                lines = [header().encode()]
                rows = _database_lines(filters, fmt, using)
            else:  # SQLite (the demo)
                lines = []
                rows = _written_lines(filters, fmt, using)
                lines.append(next(rows))  # the header (empty for JSON Lines)
            # Closed before the transaction ends, also when the download breaks off: an unfinished COPY
            # must be cancelled before the connection can roll back.
            with closing(rows):
                for data in rows:
                    lines.append(data)
                    count += 1
                    if len(lines) >= ROWS_PER_WRITE:
                        yield b"".join(lines)
                        lines = []
            if lines:
                yield b"".join(lines)
        complete = True
    finally:
        try:
            AuditExport.objects.using(using).create(
                user=actor, format=fmt, filters=filters.extra, row_count=count, complete=complete, ip=ip
            )
        except Exception:  # the download is over either way; the failure must be seen
            logger.exception("The export of the audit log by %s (%s rows) could not be recorded.", actor, count)
            raise
