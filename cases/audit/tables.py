"""Which tables the audit trail protects, and whether the database does.

A table is protected when its model is a simple-history historical model
(every ``audited_history()`` table and the history tables of tracked
many-to-many fields) or an ``AppendOnlyModel`` (sign-in events). The list is
derived from the models, so a history table added later is on it at once;
``missing_protection()`` then reports it until a migration installs its
triggers with ``InstallAuditTriggers``.
"""

from dataclasses import dataclass

from django.apps import apps as global_apps
from simple_history.models import HistoricalChanges

from accounts.audited_models import AppendOnlyModel

from . import sql

HASH_FIELD_NAMES = ("history_hash", "chain_hash")


@dataclass(frozen=True)
class ProtectedTable:
    label: str  # app_label.ModelName
    table: str
    id_column: str
    hash_column: str | None  # None: append-only without a chain (the m2m history table)

    @property
    def expected_triggers(self):
        names = set(sql.PROTECTION_TRIGGERS)
        if self.hash_column:
            names.add(sql.CHAIN_TRIGGER)
        return names


def is_protected_model(model):
    return issubclass(model, HistoricalChanges) or issubclass(model, AppendOnlyModel)


def describe(model):
    hash_column = next(
        (model._meta.get_field(name).column for name in HASH_FIELD_NAMES if _has_field(model, name)),
        None,
    )
    return ProtectedTable(
        label=model._meta.label,
        table=model._meta.db_table,
        id_column=model._meta.pk.column,
        hash_column=hash_column,
    )


def _has_field(model, name):
    try:
        model._meta.get_field(name)
    except Exception:  # FieldDoesNotExist
        return False
    return True


def protected_tables(apps=global_apps):
    """Every table that must be append-only, sorted by table name."""
    models = [m for m in apps.get_models() if m._meta.managed and not m._meta.proxy and is_protected_model(m)]
    return sorted((describe(m) for m in models), key=lambda t: t.table)


def chains(apps=global_apps):
    return [t for t in protected_tables(apps) if t.hash_column]


def installed_triggers(connection):
    """{table: {trigger name: enabled?}} of the audit triggers in the database."""
    found = {}
    with connection.cursor() as cursor:
        cursor.execute(sql.TRIGGERS_SQL)
        for table, name, enabled in cursor.fetchall():
            found.setdefault(table, {})[name] = enabled != "D"
    return found


def missing_protection(connection, apps=global_apps):
    """[(table, [problem, ...])] for every protected table whose triggers are
    missing or disabled. Empty when everything is protected."""
    triggers = installed_triggers(connection)
    problems = []
    for table in protected_tables(apps):
        present = triggers.get(table.table, {})
        issues = [f"trigger {name} is missing" for name in sorted(table.expected_triggers - set(present))]
        issues += [f"trigger {name} is disabled" for name, enabled in sorted(present.items()) if not enabled]
        if issues:
            problems.append((table, issues))
    return problems
