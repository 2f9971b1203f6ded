"""Migration operations of full-text search that only PostgreSQL has.

The zero-setup demo (`make run`) runs on SQLite, which has neither the
unaccent extension, text-search configurations nor GIN indexes; there the
operations change the migration state only, and search falls back to plain
matching (cases.search.selectors)."""

from django.db import migrations


class _OnPostgreSQLOnly:
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class PostgreSQLRunSQL(_OnPostgreSQLOnly, migrations.RunSQL):
    """RunSQL on PostgreSQL; nothing elsewhere."""


class PostgreSQLAddIndex(_OnPostgreSQLOnly, migrations.AddIndex):
    """AddIndex (a GIN index on a search vector) on PostgreSQL; elsewhere the
    index is in the migration state only."""


class PostgreSQLRemoveIndex(_OnPostgreSQLOnly, migrations.RemoveIndex):
    """RemoveIndex on PostgreSQL; elsewhere the index leaves the migration state only."""
