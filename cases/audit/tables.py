"""Which tables the audit trail protects, and whether the database does.

A table is protected when its model is a simple-history historical model
(every ``audited_history()`` table and the history tables of tracked
many-to-many fields) or an ``AppendOnlyModel`` (sign-in events, audit exports,
checkpoints). The list is derived from the models, so a history table added
later is on it at once; ``missing_protection()`` then reports it until a
migration installs its triggers with ``InstallAuditTriggers``.
"""

from dataclasses import dataclass

from django.apps import apps as global_apps
from django.core.exceptions import FieldDoesNotExist
from simple_history.models import HistoricalChanges

from accounts.audited_models import AppendOnlyModel

from . import sql

HASH_FIELD_NAMES = ("history_hash", "chain_hash")
TIME_FIELD_NAMES = ("history_date", "at")


@dataclass(frozen=True)
class ParentLink:
    """How a row of a many-to-many history table belongs to a row of its
    parent history table (see sql.install_sql)."""

    table: str  # the parent history table
    link_column: str  # this table's column naming the parent row
    id_column: str  # the parent's id column
    object_column: str  # the parent's column naming the audited object
    own_object_column: str  # this table's column naming the same object

    def as_args(self):
        return (self.table, self.link_column, self.id_column, self.object_column, self.own_object_column)


@dataclass(frozen=True)
class ProtectedTable:
    label: str  # app_label.ModelName
    table: str
    id_column: str
    hash_column: str | None  # every protected model has one; None is reported as missing protection
    time_column: str | None = None  # set by the database on insert; None for many-to-many history
    parent: ParentLink | None = None
    # Append-only but deliberately not chained, and why (the model's
    # ``audit_unchained_because``): e.g. file chunks, whose bytes are checked
    # against their file's SHA-256 instead.
    unchained_because: str = ""

    @property
    def expected_triggers(self):
        if self.unchained_because:
            return set(sql.PROTECTION_TRIGGERS)
        return {*sql.PROTECTION_TRIGGERS, sql.CHAIN_TRIGGER}


def is_protected_model(model):
    return issubclass(model, HistoricalChanges) or issubclass(model, AppendOnlyModel)


def _field(model, name):
    try:
        return model._meta.get_field(name)
    except FieldDoesNotExist:
        return None


def _parent_link(model):
    """The parent history row of a many-to-many history model (simple-history
    names its foreign key ``history``), or None for any other model."""
    link = _field(model, "history")
    parent = link.related_model if link is not None and link.is_relation else None
    if parent is None or _field(parent, "history_date") is None or _field(model, "history_date") is not None:
        return None
    own = next((f for f in model._meta.concrete_fields if f is not link and _is_audited_by(f, parent)), None)
    if own is None:
        return None
    return ParentLink(
        table=parent._meta.db_table,
        link_column=link.column,
        id_column=parent._meta.pk.column,
        object_column=parent._meta.get_field(own.related_model._meta.pk.attname).column,
        own_object_column=own.column,
    )


def _is_audited_by(field, historical):
    """Whether ``field`` points at the model whose history ``historical`` is.
    (Models of a migration's state have no ``instance_type``: there the
    historical model's name tells, "historical" + the model's name.)"""
    if not field.is_relation or field.related_model is None:
        return False
    audited = getattr(historical, "instance_type", None)
    if audited is not None:
        return field.related_model is audited
    return historical._meta.model_name == "historical" + field.related_model._meta.model_name


def describe(model):
    hash_field = next((_field(model, n) for n in HASH_FIELD_NAMES if _field(model, n) is not None), None)
    time_field = next((_field(model, n) for n in TIME_FIELD_NAMES if _field(model, n) is not None), None)
    return ProtectedTable(
        label=model._meta.label,
        table=model._meta.db_table,
        id_column=model._meta.pk.column,
        hash_column=hash_field.column if hash_field is not None else None,
        time_column=time_field.column if time_field is not None else None,
        parent=_parent_link(model),
        unchained_because=str(getattr(model, "audit_unchained_because", "") or ""),
    )


def protected_tables(apps=global_apps):
    """Every table that must be append-only, sorted by table name."""
    models = [m for m in apps.get_models() if m._meta.managed and not m._meta.proxy and is_protected_model(m)]
    return sorted((describe(m) for m in models), key=lambda t: t.table)


def chains(apps=global_apps):
    return [t for t in protected_tables(apps) if t.hash_column]


def installed_triggers(connection, schema=None):
    """{table: {trigger name: enabled?}} of the audit triggers in the database."""
    found = {}
    with connection.cursor() as cursor:
        cursor.execute(sql.TRIGGERS_SQL, [schema or sql.app_schema(cursor)])
        for table, name, enabled in cursor.fetchall():
            found.setdefault(table, {})[name] = enabled != "D"
    return found


def missing_protection(connection, apps=global_apps, schema=None):
    """[(table, [problem, ...])] for every protected table whose triggers are
    missing or disabled, or that has no hash column. Empty when everything is
    protected."""
    triggers = installed_triggers(connection, schema)
    problems = []
    for table in protected_tables(apps):
        present = triggers.get(table.table, {})
        chained = table.hash_column or table.unchained_because
        issues = [] if chained else ["no hash column (history_hash or chain_hash): its rows are not chained"]
        issues += [f"trigger {name} is missing" for name in sorted(table.expected_triggers - set(present))]
        issues += [f"trigger {name} is disabled" for name, enabled in sorted(present.items()) if not enabled]
        if issues:
            problems.append((table, issues))
    return problems
