"""What a row of the audit log changed, in words: "Användare “Nils Berg”:
Aktiv, E-postadress ändrade" instead of "accounts_historicaluser 51".

One query for a whole page, whatever tables its rows come from: each history
row beside the row before it of the same object (a LATERAL join on the history
table's own index), as JSON; the fields that differ are named as the timeline
names them (timeline.field_label)."""

import json

from django.db import connections
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from . import log, timeline

# The first of these columns that a row has names the object in the log.
NAME_COLUMNS = ("case_number", "full_name", "name", "title", "signatory_name", "email", "description", "owner_name")
NAME_MAX = 60


def _pairs(rows, using):
    """{(kind, history_id): (row as JSON, the row before it as JSON or None)}."""
    by_source = {}
    for row in rows:
        if row.source.is_history:
            by_source.setdefault(row.kind, []).append(row.history_id)
    if not by_source:
        return {}
    connection = connections[using]
    if connection.vendor != "postgresql":
        return _pairs_one_by_one(by_source, connection)
    quote = connection.ops.quote_name
    parts, params = [], []
    for kind, ids in by_source.items():
        src = log.source(kind)
        table = quote(src.table)
        pk = quote(src.audited._meta.pk.column)
        parts.append(
            f"SELECT %s, h.history_id, to_jsonb(h), to_jsonb(p) FROM {table} h "  # noqa: S608 - names from model metadata
            f"LEFT JOIN LATERAL (SELECT * FROM {table} x WHERE x.{pk} = h.{pk} AND x.history_id < h.history_id "
            f"ORDER BY x.history_id DESC LIMIT 1) p ON true WHERE h.history_id = ANY(%s)"
        )
        params += [kind, ids]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        return {
            (kind, history_id): (_json(current), _json(previous))
            for kind, history_id, current, previous in cursor.fetchall()
        }


def _json(value):
    """Django has psycopg hand jsonb over as text."""
    return json.loads(value) if isinstance(value, str) else value


def _name(current):
    for column in NAME_COLUMNS:
        value = current.get(column)
        if value:
            text = " ".join(str(value).split())
            return text if len(text) <= NAME_MAX else text[: NAME_MAX - 1] + "…"
    return ""


def _what(row, current, previous):
    src = row.source
    thing = str(capfirst(src.verbose_name))
    name = _name(current)
    subject = _("%(thing)s “%(name)s”") % {"thing": thing, "name": name} if name else thing
    if row.history_type == "+":
        return _("%(subject)s: created") % {"subject": subject}
    if row.history_type == "-":
        return _("%(subject)s: removed") % {"subject": subject}
    if previous is None:
        return _("%(subject)s: changed") % {"subject": subject}
    changed = [
        timeline.field_label(f)
        for f in timeline._tracked_fields(src)
        if current.get(f.column) != previous.get(f.column)
    ]
    if not changed:
        return _("%(subject)s: saved with its links changed") % {"subject": subject}
    return _("%(subject)s: %(fields)s changed") % {"subject": subject, "fields": ", ".join(changed)}


def _pairs_one_by_one(by_source, connection):
    """What ``_pairs`` reads, without PostgreSQL's JSON and LATERAL: two plain
    queries a row (the SQLite demo of ``make run``; its log has a few hundred rows)."""
    quote = connection.ops.quote_name
    pairs = {}
    with connection.cursor() as cursor:

        def one(sql, params):
            cursor.execute(sql, params)
            found = cursor.fetchone()
            return None if found is None else dict(zip((c[0] for c in cursor.description), found, strict=True))

        for kind, ids in by_source.items():
            src = log.source(kind)
            table, pk = quote(src.table), quote(src.audited._meta.pk.column)
            for history_id in ids:
                current = one(f"SELECT * FROM {table} WHERE history_id = %s", [history_id])  # noqa: S608
                if current is None:
                    continue
                previous = one(
                    f"SELECT * FROM {table} WHERE {pk} = %s AND history_id < %s "  # noqa: S608
                    "ORDER BY history_id DESC LIMIT 1",
                    [current[src.audited._meta.pk.column], history_id],
                )
                pairs[(kind, history_id)] = (current, previous)
    return pairs


def describe(rows, *, using="default"):
    """Set ``what`` on each LogRow of a page: what the row changed, in words."""
    pairs = _pairs(rows, using)
    for row in rows:
        pair = pairs.get((row.kind, row.history_id))
        if pair is None:  # a sign-in, an export, a file check: its event says what it was
            row.what = str(capfirst(row.source.verbose_name))
        else:
            row.what = _what(row, *pair)


def plain_address(ip):
    """An address as people write it: 127.0.0.1, not PostgreSQL's 127.0.0.1/32."""
    if ip and ip.endswith(("/32", "/128")):
        return ip.rsplit("/", 1)[0]
    return ip
