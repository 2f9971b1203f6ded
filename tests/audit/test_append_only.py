"""The database refuses to change or remove history, whoever asks."""

import uuid

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from cases.audit.tables import protected_tables

from .conftest import refused, run_sql

pytestmark = pytest.mark.django_db

HISTORY = "cases_historicalagreement"
M2M_HISTORY = "cases_historicalcollaborationarea_priorities"


def count(table):
    return run_sql(f"SELECT count(*) FROM {table}")[0][0]


@pytest.mark.parametrize("table", [HISTORY, M2M_HISTORY, "accounts_historicalorganisation"])
def test_raw_update_delete_and_truncate_of_history_are_refused(agreement, table):
    rows = count(table)
    assert rows > 0
    column = "history_id" if table != M2M_HISTORY else "m2m_history_id"

    message = refused(f"UPDATE {table} SET {column} = {column} + 1000000")
    assert f"UPDATE on {table} is refused: the audit trail is append-only" in message
    message = refused(f"DELETE FROM {table}")
    assert f"DELETE on {table} is refused" in message
    run_sql("SET CONSTRAINTS ALL IMMEDIATE")  # else TRUNCATE fails on the test's pending foreign-key checks
    message = refused(f"TRUNCATE {table} CASCADE")
    assert f"TRUNCATE on {table} is refused" in message

    assert count(table) == rows


def test_history_text_cannot_be_rewritten(agreement):
    message = refused(
        "UPDATE cases_historicalagreement SET history_change_reason = 'nothing happened' WHERE id = %s",
        [agreement.pk],
    )
    assert "append-only" in message
    reasons = run_sql("SELECT history_change_reason FROM cases_historicalagreement WHERE id = %s", [agreement.pk])
    assert ("nothing happened",) not in reasons


def test_an_update_that_changes_nothing_passes(agreement):
    """Django's deserialisation (serialized_rollback, loaddata) saves rows
    unchanged with UPDATE; that changes nothing, so it is let through."""
    before = run_sql("SELECT * FROM cases_historicalagreement ORDER BY history_id")
    run_sql("UPDATE cases_historicalagreement SET title = title")
    assert run_sql("SELECT * FROM cases_historicalagreement ORDER BY history_id") == before


def test_a_superuser_maintenance_session_may_truncate_but_still_not_rewrite(agreement):
    """The test flush path: a superuser with samverkan.audit_maintenance on
    may empty history tables; an UPDATE still changes nothing."""
    with transaction.atomic():
        run_sql("SET LOCAL samverkan.audit_maintenance = 'on'")
        before = run_sql(f"SELECT * FROM {HISTORY} ORDER BY history_id")
        run_sql(f"UPDATE {HISTORY} SET title = 'Omskriven'")
        assert run_sql(f"SELECT * FROM {HISTORY} ORDER BY history_id") == before
        run_sql("SET CONSTRAINTS ALL IMMEDIATE")
        run_sql(f"TRUNCATE {HISTORY} CASCADE")
        assert count(HISTORY) == 0
        transaction.set_rollback(True)
    assert count(HISTORY) > 0


def test_the_maintenance_setting_does_not_help_another_role(agreement):
    """An application role that is not a superuser stays refused even when it
    sets the maintenance variable itself."""
    role = f"samverkan_app_{uuid.uuid4().hex[:12]}"
    with transaction.atomic():
        run_sql(f"CREATE ROLE {role} NOSUPERUSER NOLOGIN")
        run_sql(f"GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON {HISTORY} TO {role}")
        run_sql(f"SET LOCAL ROLE {role}")
        run_sql("SET LOCAL samverkan.audit_maintenance = 'on'")
        run_sql("SET CONSTRAINTS ALL IMMEDIATE")
        for statement in (f"UPDATE {HISTORY} SET title = 'x'", f"DELETE FROM {HISTORY}", f"TRUNCATE {HISTORY}"):
            assert "append-only" in refused(statement)
        transaction.set_rollback(True)


def test_the_application_may_still_insert_history(agreement):
    rows = count(HISTORY)
    agreement.title = "Ny titel"
    agreement.save()
    assert count(HISTORY) == rows + 1


def test_simple_history_commands_that_delete_history_are_refused(agreement):
    """simple-history ships commands that delete history; the database refuses them."""
    rows = count(HISTORY)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        call_command("clean_old_history", "--auto", "--days", "0", verbosity=0)
    assert count(HISTORY) == rows


def test_every_protected_table_is_found(db):
    """The list the coverage test checks is not empty: every history table of
    the models so far, the m2m history table and the sign-in events."""
    tables = {t.table for t in protected_tables()}
    assert {
        "accounts_historicaluser",
        "accounts_historicalorganisation",
        "accounts_historicalmembership",
        "accounts_signinevent",
        "cases_historicalplanperiod",
        "cases_historicalplanpriority",
        "cases_historicalagreement",
        "cases_historicalcollaborationarea",
        M2M_HISTORY,
        "cases_historicalagreementrevision",
        "cases_historicalattachment",
        "cases_historicalreviewcomment",
        "cases_historicaldecision",
        "cases_historicalsignature",
        "workflows_historicaltaskdeadline",
    } <= tables
    chained = {t.table: t.hash_column for t in protected_tables()}
    assert chained[M2M_HISTORY] == "history_hash"  # chained like every history table
    assert chained["cases_historicaldialoguemeeting_participants"] == "history_hash"
    assert chained["accounts_signinevent"] == "chain_hash"
    assert chained[HISTORY] == "history_hash"
    assert connection.vendor == "postgresql"


def test_the_flush_command_is_the_audit_apps():
    """Django's test machinery empties the database with ``flush``; ours opens
    the superuser maintenance session first (see test_concurrency, which
    depends on it after every test)."""
    from django.core.management import get_commands

    assert get_commands()["flush"] == "cases.audit"
