"""The global audit log: every history row of every audited table, and every
append-only record (sign-in events, audit exports), read as one stream.

The sources are derived from the models, like the protected tables of
``tables.py``: each simple-history table with a ``history_date`` and each
``AppendOnlyModel`` with an ``at`` column is a source, so a history table
added later is in the log at once. (The history tables of many-to-many fields
have no date or author of their own: their rows belong to a row of the parent
history table, which is in the log.)

Each source is one branch of a ``UNION ALL`` with a common projection: the
source's key and rank, history id, date and type, who (user id), why (change
reason), a detail, the client address, the workflow task, the object's id,
the agreement / municipality / plan period the row belongs to where that can
be derived, and the row's chain hash. A branch is an ordinary Django queryset
(so filters use the tables' indexes and the SQL is the database's own
dialect); the branches are joined with ``UNION ALL`` in raw SQL.

Rows are ordered newest first by (history_date, rank, history_id), where the
rank stands for the table (a number, so that no collation can reorder it).
Pages are cut by key set, never by OFFSET: each branch reads only the rows
after the cursor, in index order, at most one page of them.
"""

import datetime
import functools
from dataclasses import dataclass, field

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import connections
from django.db.models import BigIntegerField, F, IntegerField, TextField, Value
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from simple_history.models import HistoricalChanges

from accounts.audited_models import AppendOnlyModel

# How rows of these models reach their agreement, where it is not a field named
# "agreement". Paths are Django lookups from the history row.
AGREEMENT_PATHS = {
    "cases.agreement": "id",
    "cases.followupentry": "follow_up__agreement",
    "workflows.taskdeadline": "task__process__agreementprocess__agreement",
}
# Rows that belong to a municipality without belonging to an agreement.
MUNICIPALITY_PATHS = {"accounts.organisation": "id", "accounts.membership": "organisation"}
PLAN_PERIOD_PATHS = {"cases.planperiod": "id"}
# Append-only records: the columns shown as the "reason" and the "detail".
APPEND_ONLY_COLUMNS = {
    "accounts.signinevent": ("kind", "email"),
    "audit.auditexport": ("format", "filters"),
    "storage.fileintegrityevent": ("kind", "name"),
}

# The projection every branch has, in this order.
COLUMNS = (
    "kind",
    "rank",
    "history_id",
    "history_date",
    "history_type",
    "user_id",
    "reason",
    "detail",
    "ip",
    "task_id",
    "object_id",
    "agreement_id",
    "municipality_id",
    "plan_period_id",
    "row_hash",
)
# Added by the outer query for display.
DISPLAY_COLUMNS = ("user_email", "user_name", "case_number", "municipality_name")
PREFIX = "log_"


@dataclass(frozen=True)
class Source:
    """One table of the log."""

    key: str  # label_lower of the audited model, e.g. "cases.agreement"
    rank: int  # the table's place in the sort order
    model: type  # the table's model: a historical model, or the append-only model itself
    audited: type  # the model whose changes the table records
    agreement_path: str | None
    municipality_path: str | None
    plan_period_path: str | None

    @property
    def is_history(self):
        return issubclass(self.model, HistoricalChanges)

    @property
    def table(self):
        return self.model._meta.db_table

    @property
    def label(self):
        return self.audited._meta.verbose_name_plural

    @property
    def verbose_name(self):
        return self.audited._meta.verbose_name


def _has_field(model, name):
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True


def _derive_paths(audited):
    key = audited._meta.label_lower
    agreement = AGREEMENT_PATHS.get(key)
    if agreement is None and _has_field(audited, "agreement"):
        target = audited._meta.get_field("agreement").related_model
        if target is not None and target._meta.label_lower == "cases.agreement":
            agreement = "agreement"
    municipality = MUNICIPALITY_PATHS.get(key)
    if municipality is None:
        if _has_field(audited, "municipality"):
            municipality = "municipality"
        elif agreement is not None:
            municipality = f"{agreement}__municipality"
    plan_period = PLAN_PERIOD_PATHS.get(key)
    if plan_period is None:
        if _has_field(audited, "plan_period"):
            plan_period = "plan_period"
        elif agreement is not None:
            plan_period = f"{agreement}__plan_period"
    return agreement, municipality, plan_period


def _is_source(model):
    if not model._meta.managed or model._meta.proxy:
        return False
    if issubclass(model, HistoricalChanges):
        return _has_field(model, "history_date") and hasattr(model, "instance_type")
    return issubclass(model, AppendOnlyModel) and _has_field(model, "at") and _has_field(model, "user")


@functools.cache
def sources() -> tuple[Source, ...]:
    """Every source of the log, in rank order (by table name)."""
    models = sorted((m for m in apps.get_models() if _is_source(m)), key=lambda m: m._meta.db_table)
    found = []
    for rank, model in enumerate(models, start=1):
        audited = model.instance_type if issubclass(model, HistoricalChanges) else model
        agreement, municipality, plan_period = _derive_paths(audited)
        found.append(
            Source(
                key=audited._meta.label_lower,
                rank=rank,
                model=model,
                audited=audited,
                agreement_path=agreement,
                municipality_path=municipality,
                plan_period_path=plan_period,
            )
        )
    return tuple(found)


def source(key) -> Source | None:
    return next((s for s in sources() if s.key == key), None)


def agreement_sources():
    """The history tables whose rows belong to one agreement."""
    return [s for s in sources() if s.is_history and s.agreement_path]


def m2m_history(historical_model):
    """[(m2m field, its history model, the column of the linked object)] of a
    historical model: simple-history keeps each many-to-many field's links,
    as they were, in a table whose rows point at the parent history row."""
    found = []
    for m2m_field in getattr(historical_model, "_history_m2m_fields", ()):
        for model in apps.get_models():
            if not issubclass(model, HistoricalChanges) or not _has_field(model, "history"):
                continue
            if model._meta.get_field("history").related_model is not historical_model:
                continue
            target = next(
                (
                    f
                    for f in model._meta.concrete_fields
                    if f.is_relation and f.related_model is m2m_field.related_model and f.name != "history"
                ),
                None,
            )
            if target is not None:
                found.append((m2m_field, model, target))
    return found


# ---------------------------------------------------------------------------
# Filters and the cursor
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LogFilters:
    municipality_id: int | None = None
    plan_period_id: int | None = None
    user_id: int | None = None
    agreement_id: int | None = None
    since: datetime.datetime | None = None  # inclusive
    until: datetime.datetime | None = None  # exclusive
    kinds: tuple = ()  # source keys; empty: every source
    # The municipalities the reader may see (accounts.permissions.visible_municipality_ids); None: all.
    municipality_scope: frozenset | None = None
    extra: dict = field(default_factory=dict, compare=False)  # the form's values, for the export record

    def selected_sources(self):
        """The sources that can hold matching rows: of the chosen kinds, and able
        to say which agreement, municipality or plan period a row belongs to
        when that is filtered on."""
        return [s for s in sources() if (not self.kinds or s.key in self.kinds) and self._can_match(s)]

    def _can_match(self, src):
        if self.agreement_id is not None and not src.agreement_path:
            return False
        if self.plan_period_id is not None and not src.plan_period_path:
            return False
        if (self.municipality_id is not None or self.municipality_scope is not None) and not src.municipality_path:
            return False
        return self.municipality_scope is None or bool(self.municipality_scope)


@dataclass(frozen=True)
class Cursor:
    history_date: datetime.datetime
    kind: str
    history_id: int

    def __str__(self):
        return f"{self.history_date.isoformat()}~{self.kind}~{self.history_id}"

    @classmethod
    def parse(cls, text):
        """Raise ValueError unless ``text`` is a cursor of an existing source."""
        parts = (text or "").split("~")
        if len(parts) != 3:
            raise ValueError("not a cursor")
        when = parse_datetime(parts[0].replace(" ", "+"))  # "+" of the offset may arrive as a space
        if when is None or timezone.is_naive(when) or source(parts[1]) is None or not parts[2].isdigit():
            raise ValueError("not a cursor")
        return cls(history_date=when, kind=parts[1], history_id=int(parts[2]))


# ---------------------------------------------------------------------------
# The query
# ---------------------------------------------------------------------------


def _null(output_field):
    return Cast(Value(None), output_field=output_field)


def _path(path):
    return F(path) if path else _null(BigIntegerField())


def projection(src: Source):
    """The queryset of one source: every row as the common projection
    (annotations named ``log_<column>``), unfiltered and unordered."""
    model = src.model
    if src.is_history:
        own = {
            "history_id": F("history_id"),
            "history_date": F("history_date"),
            "history_type": F("history_type"),
            "user_id": F("history_user_id"),
            "reason": F("history_change_reason"),
            "detail": _null(TextField()),
            "ip": Cast("history_ip", output_field=TextField()),
            "task_id": F("history_task_id"),
            "object_id": F(src.audited._meta.pk.attname),
            "row_hash": F("history_hash"),
        }
    else:
        reason, detail = APPEND_ONLY_COLUMNS.get(src.key, (None, None))
        own = {
            "history_id": F(model._meta.pk.attname),
            "history_date": F("at"),
            "history_type": Value("+"),
            "user_id": F("user"),
            "reason": Cast(reason, output_field=TextField()) if reason else _null(TextField()),
            "detail": Cast(detail, output_field=TextField()) if detail else _null(TextField()),
            "ip": Cast("ip", output_field=TextField()) if _has_field(model, "ip") else _null(TextField()),
            "task_id": _null(BigIntegerField()),
            "object_id": F(model._meta.pk.attname),
            "row_hash": F("chain_hash") if _has_field(model, "chain_hash") else _null(TextField()),
        }
    expressions = {
        "kind": Value(src.key, output_field=TextField()),
        "rank": Value(src.rank, output_field=IntegerField()),
        **own,
        "agreement_id": _path(src.agreement_path),
        "municipality_id": _path(src.municipality_path),
        "plan_period_id": _path(src.plan_period_path),
    }
    queryset = model._default_manager.order_by().annotate(**{PREFIX + name: expressions[name] for name in COLUMNS})
    return queryset.values(*(PREFIX + name for name in COLUMNS))


@functools.cache
def _projection_sql(key, using):
    """(sql, params) of a source's projection, compiled once per database."""
    return projection(source(key)).query.get_compiler(using=using).as_sql()


def _column(connection, name):
    return connection.ops.quote_name(PREFIX + name)


def _conditions(connection, src, filters, after):
    """[(sql, params)] that a source's projected rows must meet. The planner
    pushes them into the branch, onto the tables' own columns and indexes."""
    col = functools.partial(_column, connection)
    conditions = []
    if filters.since is not None:
        conditions.append((f"{col('history_date')} >= %s", [filters.since]))
    if filters.until is not None:
        conditions.append((f"{col('history_date')} < %s", [filters.until]))
    # selected_sources() has left out the sources that cannot say what is filtered on.
    for value, name in (
        (filters.user_id, "user_id"),
        (filters.agreement_id, "agreement_id"),
        (filters.municipality_id, "municipality_id"),
        (filters.plan_period_id, "plan_period_id"),
    ):
        if value is not None:
            conditions.append((f"{col(name)} = %s", [value]))
    if filters.municipality_scope is not None:
        ids = sorted(filters.municipality_scope)
        conditions.append((f"{col('municipality_id')} IN ({', '.join(['%s'] * len(ids))})", ids))
    if after is not None:
        # Newest first by (date, rank, id): the rows after the cursor. The rank
        # is constant within a branch, so each branch gets a simple condition.
        rank = source(after.kind).rank
        if src.rank < rank:
            conditions.append((f"{col('history_date')} <= %s", [after.history_date]))
        elif src.rank > rank:
            conditions.append((f"{col('history_date')} < %s", [after.history_date]))
        else:
            conditions.append(
                (
                    f"({col('history_date')} < %s OR ({col('history_date')} = %s AND {col('history_id')} < %s))",
                    [after.history_date, after.history_date, after.history_id],
                )
            )
    return conditions


def branch_sql(src: Source, filters: LogFilters, *, after=None, limit=None, using="default"):
    """(sql, params) of one source's matching rows; with ``limit``, only the
    newest ``limit`` of them (read in index order)."""
    connection = connections[using]
    quote = connection.ops.quote_name
    sql, params = _projection_sql(src.key, using)
    params = list(params)
    names = ", ".join(_column(connection, name) for name in COLUMNS)
    sql = f"SELECT {names} FROM ({sql}) {quote('p')}"  # noqa: S608 - names from model metadata
    conditions = _conditions(connection, src, filters, after)
    if conditions:
        sql += " WHERE " + " AND ".join(condition for condition, _params in conditions)
        for _condition, condition_params in conditions:
            params.extend(condition_params)
    if limit is not None:
        order = f"{_column(connection, 'history_date')} DESC, {_column(connection, 'history_id')} DESC"
        sql += f" ORDER BY {order} LIMIT {int(limit)}"
    return sql, params


def log_sql(filters: LogFilters, *, after: Cursor | None = None, limit: int | None = None, using="default"):
    """(sql, params) of the log: the branches joined with UNION ALL, the
    readers' names joined on, newest first, at most ``limit`` rows."""
    connection = connections[using]
    quote = connection.ops.quote_name
    selected = filters.selected_sources()
    if not selected:  # a valid query with no rows
        selected, filters = sources()[:1], LogFilters(user_id=-1)
    names = ", ".join(_column(connection, name) for name in COLUMNS)
    parts, params = [], []
    for index, src in enumerate(selected):
        sql, branch_params = branch_sql(src, filters, after=after, limit=limit, using=using)
        parts.append(f"SELECT {names} FROM ({sql}) {quote(f'b{index}')}")  # noqa: S608 - names from model metadata
        params.extend(branch_params)
    user_model = apps.get_model("accounts", "User")
    agreement_model = apps.get_model("cases", "Agreement")
    organisation_model = apps.get_model("accounts", "Organisation")
    column = functools.partial(_column, connection)
    order = f"l.{column('history_date')} DESC, l.{column('rank')} DESC, l.{column('history_id')} DESC"
    rows = " UNION ALL ".join(parts)
    if limit is not None:
        # The page's rows first, then their names: joining every branch's
        # candidates (up to ``limit`` from each of some thirty) before the sort
        # looked up names for rows that were then thrown away.
        rows = f"SELECT * FROM ({rows}) l ORDER BY {order} LIMIT {int(limit)}"  # noqa: S608 - names from model metadata
    sql = (
        f"SELECT l.*, u.{quote('email')}, u.{quote('full_name')}, a.{quote('case_number')}, o.{quote('name')} "  # noqa: S608
        f"FROM ({rows}) l "
        f"LEFT JOIN {quote(user_model._meta.db_table)} u ON u.{quote('id')} = l.{column('user_id')} "
        f"LEFT JOIN {quote(agreement_model._meta.db_table)} a ON a.{quote('id')} = l.{column('agreement_id')} "
        f"LEFT JOIN {quote(organisation_model._meta.db_table)} o ON o.{quote('id')} = l.{column('municipality_id')} "
        f"ORDER BY {order}"
    )
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return sql, params


def as_datetime(value):
    if isinstance(value, str):  # SQLite returns computed columns as text
        value = parse_datetime(value)
    if value is not None and timezone.is_naive(value):
        value = timezone.make_aware(value, datetime.UTC)
    return value


@dataclass
class LogRow:
    kind: str
    rank: int
    history_id: int
    history_date: datetime.datetime
    history_type: str
    user_id: int | None
    reason: str | None
    detail: str | None
    ip: str | None
    task_id: int | None
    object_id: int | None
    agreement_id: int | None
    municipality_id: int | None
    plan_period_id: int | None
    row_hash: str | None
    user_email: str | None
    user_name: str | None
    case_number: str | None
    municipality_name: str | None

    @classmethod
    def from_db(cls, values):
        row = cls(*values)
        row.history_date = as_datetime(row.history_date)
        return row

    @property
    def source(self) -> Source:
        return source(self.kind)

    @property
    def table(self):
        return self.source.table

    @property
    def cursor(self) -> Cursor:
        return Cursor(history_date=self.history_date, kind=self.kind, history_id=self.history_id)


@dataclass
class LogPage:
    rows: list
    next_cursor: Cursor | None


def page(filters: LogFilters, *, after: Cursor | None = None, size: int = 50, using="default") -> LogPage:
    """One page of the log, newest first, and the cursor of the next page (None on the last)."""
    sql, params = log_sql(filters, after=after, limit=size + 1, using=using)
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        rows = [LogRow.from_db(values) for values in cursor.fetchall()]
    more = len(rows) > size
    rows = rows[:size]
    return LogPage(rows=rows, next_cursor=rows[-1].cursor if more else None)


def stream_values(filters: LogFilters, *, chunk_size: int = 2000, using="default"):
    """Every row of the log as the database's tuples (LogRow's field order),
    newest first, read through a server-side cursor ``chunk_size`` rows at a
    time: memory stays constant whatever the size. Run it inside a transaction
    to read from one snapshot (see export.py)."""
    sql, params = log_sql(filters, using=using)
    with connections[using].chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while True:
            chunk = cursor.fetchmany(chunk_size)
            if not chunk:
                break
            yield from chunk


def stream(filters: LogFilters, *, chunk_size: int = 2000, using="default"):
    """Every row of the log as LogRows, newest first (see stream_values)."""
    for values in stream_values(filters, chunk_size=chunk_size, using=using):
        yield LogRow.from_db(values)
