"""Migration operations that install the audit trail's database side.

A new history table is protected with one line in the migration that creates
it (or in a later one)::

    from cases.audit.operations import InstallAuditTriggers

    class Migration(migrations.Migration):
        dependencies = [("audit", "0001_audit_functions"), ...]
        operations = [
            ...,
            InstallAuditTriggers("followups", "historicalfollowup"),
        ]

Both operations do nothing on databases other than PostgreSQL (the SQLite
demo of ``make run`` has no database-level protection). Both work in the
schema the migration runs in (``current_schema()``), see cases/audit/sql.py.
"""

from django.db import migrations

from . import sql
from .tables import describe


def _schema(schema_editor):
    with schema_editor.connection.cursor() as cursor:
        return sql.app_schema(cursor)


class InstallAuditFunctions(migrations.operations.base.Operation):
    """Create (or replace) the SQL functions the audit triggers call, and drop
    those of earlier versions that are no longer used."""

    reversible = True
    reduces_to_sql = True

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            schema = _schema(schema_editor)
            schema_editor.execute(sql.in_schema(sql.FUNCTIONS_SQL, schema), params=None)
            schema_editor.execute(sql.in_schema(sql.OBSOLETE_FUNCTIONS_SQL, schema), params=None)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql.in_schema(sql.DROP_FUNCTIONS_SQL, _schema(schema_editor)), params=None)

    def describe(self):
        return "Install the audit trail's SQL functions"


class InstallAuditTriggers(migrations.operations.base.Operation):
    """Make the table of ``app_label.model_name`` append-only (no UPDATE,
    DELETE or TRUNCATE, also taken from every role's grants but the owner's)
    and chain its rows by hash (its ``history_hash`` or ``chain_hash``
    column; ``verify_audit`` reports a protected table without one), with the
    time of each row from the database. Rows already in the
    table are chained first, in id order. Reversing removes the triggers and
    keeps the hashes."""

    reversible = True
    reduces_to_sql = True

    def __init__(self, app_label, model_name):
        self.app_label = app_label
        self.model_name = model_name.lower()

    def state_forwards(self, app_label, state):
        pass

    def _table(self, schema_editor, state):
        if schema_editor.connection.vendor != "postgresql":
            return None
        model = state.apps.get_model(self.app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return None
        return describe(model)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        table = self._table(schema_editor, to_state)
        if table is None:
            return
        statements = sql.install_sql(
            table.table,
            table.id_column,
            table.hash_column,
            schema=_schema(schema_editor),
            time_column=table.time_column,
            parent=table.parent.as_args() if table.parent else None,
        )
        for statement in statements:
            schema_editor.execute(statement, params=None)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        table = self._table(schema_editor, from_state)
        if table is not None:
            for statement in sql.uninstall_sql(table.table, schema=_schema(schema_editor)):
                schema_editor.execute(statement, params=None)

    def describe(self):
        return f"Make {self.app_label}.{self.model_name} append-only and hash-chained"

    @property
    def migration_name_fragment(self):
        return f"protect_{self.model_name}"
