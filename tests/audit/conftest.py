import io

import pytest
from django.core.management import call_command
from django.db import connection

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
