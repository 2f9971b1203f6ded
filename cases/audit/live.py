"""Live rows against their history, in the database.

The hash chains prove that history was not changed; they say nothing about
the live tables. A direct ``UPDATE cases_decision SET outcome = 'rejected'``
or ``INSERT`` by anyone who can write the live table leaves no history row,
and the chains stay intact. So ``verify_audit`` also compares every live row
of every audited model with the latest history row of its object (the highest
``history_id``: ids are the chain order), on the fields the history tracks:

- ``differs``: the live row is not what its latest history row says;
- ``no_history``: a live row has no history row at all;
- ``gone``: the latest history row says the object exists (it is not a
  deletion, ``history_type`` "-"), but the live row is missing. Nothing is
  deleted in this system, so this is a row removed behind history's back;
- ``deleted``: the latest history row records a deletion, but the live row
  is there.

and every many-to-many field the history tracks (simple-history keeps the
links of each history row): the links in the live table against the links of
the object's latest history row (``links``).

Each comparison is one set-based statement per table (a ``DISTINCT ON`` of
the history, joined with the live table); Python receives one row per kind
of problem with the count and the first ids.
"""

from dataclasses import dataclass

from django.apps import apps
from simple_history.models import HistoricalChanges, HistoricalRecords

from .sql import ident, qualified

SAMPLE = 10  # ids named per kind of problem and table


@dataclass(frozen=True)
class LiveProblem:
    table: str  # the live table
    history_table: str
    kind: str  # differs, no_history, gone, deleted, links
    count: int
    ids: tuple  # the first ids of the live table's objects (at most SAMPLE)

    DESCRIPTIONS = {
        "differs": "differs from its latest history row",
        "no_history": "has no history row",
        "gone": "is missing, but its history does not record a deletion",
        "deleted": "is there, but its latest history row records its deletion",
        "links": "has links that differ from those of its latest history row",
    }

    def describe(self):
        ids = ", ".join(str(i) for i in self.ids)
        more = f" and {self.count - len(self.ids)} more" if self.count > len(self.ids) else ""
        noun = "row" if self.count == 1 else "rows"
        return f"{self.table}: {noun} id={ids}{more} {self.DESCRIPTIONS[self.kind]} ({self.history_table})"


def _links_problem(links, kind, count, ids):
    """Links are reported on the audited object's table, naming the link table."""
    return LiveProblem(links.audited_table, f"{links.table}, {links.history_table}", kind, count, tuple(ids))


@dataclass(frozen=True)
class LiveTable:
    """An audited model's live table and its history table."""

    table: str
    pk_column: str
    history_table: str
    columns: tuple  # the tracked columns, the same name in both tables


@dataclass(frozen=True)
class LiveLinks:
    """A tracked many-to-many field: its live table and its history table."""

    audited_table: str  # the table of the model with the field
    table: str  # the live link table (the field's through table)
    object_column: str  # its column naming the audited object
    target_column: str  # its column naming the linked object
    history_table: str  # the many-to-many history table
    history_link_column: str  # its column naming the parent history row
    history_target_column: str
    parent_table: str  # the audited model's history table
    parent_id_column: str
    parent_object_column: str


def live_tables():
    """Every audited model with its history table, sorted by table name."""
    found = []
    for model in apps.get_models():
        if not issubclass(model, HistoricalChanges) or not hasattr(model, "tracked_fields"):
            continue
        audited = model.instance_type
        if not audited._meta.managed or audited._meta.proxy:
            continue
        found.append(
            LiveTable(
                table=audited._meta.db_table,
                pk_column=audited._meta.pk.column,
                history_table=model._meta.db_table,
                columns=tuple(f.column for f in model.tracked_fields),
            )
        )
    return sorted(found, key=lambda t: t.table)


def live_links():
    """Every many-to-many field whose links the history keeps."""
    found = []
    for field, m2m_history in HistoricalRecords.m2m_models.items():
        audited = field.model
        historical = getattr(audited, audited._meta.simple_history_manager_attribute).model
        through = field.remote_field.through
        link = m2m_history._meta.get_field("history")
        target = m2m_history._meta.get_field(field.m2m_reverse_field_name())
        found.append(
            LiveLinks(
                audited_table=audited._meta.db_table,
                table=through._meta.db_table,
                object_column=field.m2m_column_name(),
                target_column=field.m2m_reverse_name(),
                history_table=m2m_history._meta.db_table,
                history_link_column=link.column,
                history_target_column=target.column,
                parent_table=historical._meta.db_table,
                parent_id_column=historical._meta.pk.column,
                parent_object_column=historical._meta.get_field(audited._meta.pk.attname).column,
            )
        )
    return sorted(found, key=lambda t: t.table)


def _latest(schema, table, object_column, id_column, extra=""):
    """The latest history row of each object (the highest history id)."""
    h, o, i = qualified(schema, table), ident(object_column), ident(id_column)
    # Identifiers from model metadata, quoted.
    return f"SELECT DISTINCT ON (h.{o}) h.{o} AS object_id, h.{i} AS history_id{extra} FROM {h} AS h ORDER BY h.{o}, h.{i} DESC"  # noqa: E501, S608


def _summary(problems_sql):
    return (
        f"SELECT kind, count(*), (array_agg(object_id ORDER BY object_id))[1:{SAMPLE}] "  # noqa: S608
        f"FROM ({problems_sql}) AS problems WHERE kind IS NOT NULL GROUP BY kind ORDER BY kind"
    )


def rows_sql(table: LiveTable, schema):
    """Each problem row of one audited model: (object id, kind)."""
    live = qualified(schema, table.table)
    pk = ident(table.pk_column)
    tracked = ", ".join(f"h.{ident(c)}" for c in table.columns)
    latest = _latest(schema, table.history_table, table.pk_column, "history_id", f", h.history_type, {tracked}")
    mine = ", ".join(f"t.{ident(c)}" for c in table.columns)
    theirs = ", ".join(f"l.{ident(c)}" for c in table.columns)
    return f"""
        SELECT coalesce(t.{pk}, l.object_id) AS object_id,
               CASE WHEN l.object_id IS NULL THEN 'no_history'
                    WHEN t.{pk} IS NULL THEN CASE WHEN l.history_type <> '-' THEN 'gone' END
                    WHEN l.history_type = '-' THEN 'deleted'
                    WHEN ROW({mine}) IS DISTINCT FROM ROW({theirs}) THEN 'differs'
               END AS kind
        FROM {live} AS t FULL JOIN ({latest}) AS l ON l.object_id = t.{pk}
    """  # noqa: S608 (identifiers from model metadata, quoted)


def links_sql(links: LiveLinks, schema):
    """Each object whose live links differ from its latest history row's: (object id, 'links')."""
    live = qualified(schema, links.table)
    history = qualified(schema, links.history_table)
    latest = _latest(schema, links.parent_table, links.parent_object_column, links.parent_id_column)
    return f"""
        SELECT DISTINCT object_id, 'links' AS kind FROM (
            (SELECT t.{ident(links.object_column)} AS object_id, t.{ident(links.target_column)} AS target_id
             FROM {live} AS t
             EXCEPT
             SELECT l.object_id, m.{ident(links.history_target_column)}
             FROM ({latest}) AS l JOIN {history} AS m ON m.{ident(links.history_link_column)} = l.history_id)
            UNION ALL
            (SELECT l.object_id, m.{ident(links.history_target_column)}
             FROM ({latest}) AS l JOIN {history} AS m ON m.{ident(links.history_link_column)} = l.history_id
             EXCEPT
             SELECT t.{ident(links.object_column)}, t.{ident(links.target_column)} FROM {live} AS t)
        ) AS differences
    """  # noqa: S608 (identifiers from model metadata, quoted)


def compare(cursor, schema):
    """[LiveProblem] of every audited table and tracked many-to-many field;
    empty when every live row is what its history says."""
    problems = []
    for table in live_tables():
        cursor.execute(_summary(rows_sql(table, schema)))
        problems += [LiveProblem(table.table, table.history_table, k, n, tuple(ids)) for k, n, ids in cursor.fetchall()]
    for links in live_links():
        cursor.execute(_summary(links_sql(links, schema)))
        problems += [_links_problem(links, k, n, ids) for k, n, ids in cursor.fetchall()]
    return problems
