import io
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from accounts.models import Role
from cases.models import Stage
from tests.factories import agreement_in_stage, user_with_role


def run_sql(statement, params=None):
    """Run raw SQL on the test connection; return the rows, if any."""
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else None


def verify(*args):
    """Run ``verify_audit``; return (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_audit", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


def tamper(table, assignment, where):
    """What a database superuser could do: switch the append-only trigger
    off, change a history row behind the application's back, switch it on."""
    run_sql("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE waits for no pending foreign-key checks
    run_sql(f"ALTER TABLE {table} DISABLE TRIGGER samverkan_audit_append_only")
    run_sql(f"UPDATE {table} SET {assignment} WHERE {where}")
    run_sql(f"ALTER TABLE {table} ENABLE TRIGGER samverkan_audit_append_only")


@pytest.fixture
def agreement(db):
    """An agreement in municipal review: history in many tables (agreement,
    areas with linked priorities, revision, process deadlines)."""
    coordinator = user_with_role(Role.COORDINATOR, full_name="Anna Samordnare")
    return agreement_in_stage(Stage.REVIEW, "Mora", coordinator=coordinator)


# ---------------------------------------------------------------------------
# The database roles of production, on the test database
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Roles:
    owner: str
    app: str


@pytest.fixture(scope="session")
def database_roles(django_db_setup, django_db_blocker):
    """The owner and application roles exactly as ``setup_database_roles``
    makes them for production, on the test database: the tables belong to
    the owner, the application role has only its grants. Roles are shared by
    the whole cluster, so their names carry the test database's name (other
    test runs on the same cluster use other names); creating them is safe
    when another session does it at the same moment."""
    with django_db_blocker.unblock():
        name = connection.settings_dict["NAME"][:50]
        roles = Roles(owner=f"{name}_owner", app=f"{name}_app")
        out = io.StringIO()
        call_command("setup_database_roles", owner=roles.owner, app=roles.app, stdout=out)
        assert "PROBLEM" not in out.getvalue(), out.getvalue()
    return roles


@contextmanager
def as_role(role):
    """Run the block's SQL as ``role`` (SET LOCAL ROLE inside a savepoint of
    the test's transaction): its privileges exactly, on the test's data."""
    with transaction.atomic():
        run_sql(f'SET LOCAL ROLE "{role}"')
        yield
        run_sql("RESET ROLE")


def refused(statement, params=None):
    """Run ``statement`` in a savepoint and return the database's error message."""
    with pytest.raises(DatabaseError) as excinfo, transaction.atomic():
        run_sql(statement, params)
    return str(excinfo.value)


def copy_row_sql(table, id_column, changes, where):
    """INSERT … SELECT of a row of ``table`` with ``changes`` ({column: SQL
    expression}), without its id (the sequence gives one)."""
    columns = [
        c
        for (c,) in run_sql(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
            [table],
        )
        if c != id_column
    ]
    values = ", ".join(changes.get(c, f'"{c}"') for c in columns)
    names = ", ".join(f'"{c}"' for c in columns)
    return f'INSERT INTO "{table}" ({names}) SELECT {values} FROM "{table}" WHERE {where}'  # noqa: S608
