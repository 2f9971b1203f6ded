"""The hash chain: verify_audit passes an untouched database and names the
first row a superuser changed behind the application's back."""

import hashlib

import psycopg
import pytest
from django.db import DatabaseError, connection, transaction

from cases.audit.tables import chains

from .conftest import run_sql, tamper, verify

pytestmark = pytest.mark.django_db

HISTORY = "cases_historicalagreement"


def history_ids(table=HISTORY):
    return [row[0] for row in run_sql(f"SELECT history_id FROM {table} ORDER BY history_id")]


def test_an_untouched_database_verifies(agreement):
    code, out, err = verify()
    assert code == 0, err
    assert f"ok {HISTORY}: {len(history_ids())} rows" in out
    assert "The audit trail is intact" in out
    assert err == ""
    # Every chained table is reported, and every row got a hash from the database.
    for table in chains():
        assert f"ok {table.table}:" in out
    assert run_sql(f"SELECT count(*) FROM {HISTORY} WHERE length(history_hash) <> 64")[0][0] == 0


def test_a_changed_history_row_is_named(agreement):
    agreement.title = "Överenskommelse, tredje versionen"
    agreement.save()
    ids = history_ids()
    assert len(ids) >= 3
    target = ids[1]
    tamper(HISTORY, "title = 'Ett annat avtal'", f"history_id = {target}")

    code, out, err = verify()
    assert code == 1
    assert f"BROKEN {HISTORY}: first broken row history_id={target}" in err
    assert "The audit trail is NOT intact" in err
    assert "ok cases_historicalcollaborationarea" in out  # the other chains are still reported intact


def test_a_rewritten_hash_breaks_the_next_row(agreement):
    """Recomputing the changed row's hash does not help: the next row was
    chained to the old one."""
    ids = history_ids()
    target, following = ids[0], ids[1]
    # Change the first row and give it the hash its new content would have.
    run_sql("SET CONSTRAINTS ALL IMMEDIATE")
    run_sql(f"ALTER TABLE {HISTORY} DISABLE TRIGGER samverkan_audit_append_only")
    run_sql(f"UPDATE {HISTORY} SET title = 'Ett annat avtal' WHERE history_id = %s", [target])
    run_sql(
        f"UPDATE {HISTORY} AS t "
        "SET history_hash = samverkan_audit_hash(NULL, samverkan_audit_content(t, 'history_hash')) "
        "WHERE history_id = %s",
        [target],
    )
    run_sql(f"ALTER TABLE {HISTORY} ENABLE TRIGGER samverkan_audit_append_only")

    code, _out, err = verify()
    assert code == 1
    assert f"BROKEN {HISTORY}: first broken row history_id={following}" in err


def test_removing_rows_from_the_end_is_caught_by_the_exported_heads(agreement, tmp_path):
    code, heads, _err = verify("--export-head")
    assert code == 0
    last = history_ids()[-1]
    head_line = next(line for line in heads.splitlines() if line.startswith(HISTORY + " "))
    assert head_line.split()[1] == str(last)
    (tmp_path / "heads.txt").write_text(heads)

    assert verify("--heads", str(tmp_path / "heads.txt"))[0] == 0

    run_sql("SET CONSTRAINTS ALL IMMEDIATE")
    run_sql(f"ALTER TABLE {HISTORY} DISABLE TRIGGER samverkan_audit_append_only")
    run_sql(f"DELETE FROM {HISTORY} WHERE history_id = %s", [last])
    run_sql(f"ALTER TABLE {HISTORY} ENABLE TRIGGER samverkan_audit_append_only")

    # The shortened chain is consistent in itself...
    code, _out, err = verify("--no-live")
    assert code == 0, err
    # ...but the live agreement no longer matches its (now) latest history row...
    code, _out, err = verify()
    assert code == 1
    assert f"LIVE cases_agreement: row id={agreement.pk} differs from its latest history row" in err
    # ...and the head kept outside the database is gone.
    code, _out, err = verify("--heads", str(tmp_path / "heads.txt"))
    assert code == 1
    assert f"HEAD {HISTORY}: exported head {last} is no longer in the chain" in err


def test_the_hash_is_sha256_of_previous_hash_and_canonical_content(agreement):
    """The formula, recomputed outside the database from the canonical text."""
    rows = run_sql(
        f"SELECT history_hash, samverkan_audit_content(t, 'history_hash') FROM {HISTORY} AS t ORDER BY history_id"
    )
    previous = ""
    for stored, content in rows:
        assert '"history_hash"' not in content
        assert stored == hashlib.sha256((previous + content).encode()).hexdigest()
        previous = stored


def test_the_hash_does_not_depend_on_the_session_time_zone(agreement):
    run_sql("SET LOCAL TIME ZONE 'America/New_York'")
    agreement.title = "Skrivet i en annan tidszon"
    agreement.save()
    content = run_sql(
        f"SELECT samverkan_audit_content(t, 'history_hash') FROM {HISTORY} AS t ORDER BY history_id DESC LIMIT 1"
    )[0][0]
    assert "+00:00" in content
    run_sql("SET LOCAL TIME ZONE 'Europe/Stockholm'")
    assert verify()[0] == 0


def test_a_row_that_waited_behind_a_higher_id_gets_a_new_id(agreement):
    """Ids in id order are the chain order: a row arriving with an id lower
    than the chain's last one (it waited for the lock) is given the next id."""
    last = history_ids()[-1]
    stale_id = history_ids()[0] - 1 if history_ids()[0] > 1 else 0
    columns = [
        r[0] for r in run_sql(f"SELECT column_name FROM information_schema.columns WHERE table_name = '{HISTORY}'")
    ]
    copy = ", ".join(c for c in columns if c != "history_id")
    run_sql(
        f"INSERT INTO {HISTORY} (history_id, {copy}) SELECT %s, {copy} FROM {HISTORY} WHERE history_id = %s",
        [stale_id, last],
    )
    ids = history_ids()
    assert stale_id not in ids
    assert ids[-1] > last
    assert verify()[0] == 0


def test_history_is_not_written_in_an_older_snapshot(agreement):
    """REPEATABLE READ could not see the last committed row: refused, clearly."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params) as other:
        other.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="READ COMMITTED"):
            other.execute(
                "INSERT INTO accounts_historicalorganisation (id, kind, name, kommunkod, is_active, history_date, "
                "history_type, history_hash) VALUES (1, 'region', 'x', '', true, now(), '~', '')"
            )
        other.rollback()


def test_rows_written_before_a_column_was_added_still_verify(agreement):
    """A field added to an audited model adds a history column; the rows
    written before it match the columns they were written with."""
    rows = len(history_ids())
    run_sql("SET CONSTRAINTS ALL IMMEDIATE")
    run_sql(f"ALTER TABLE {HISTORY} ADD COLUMN note text NOT NULL DEFAULT 'tillagd senare'")
    agreement.title = "Efter den nya kolumnen"
    agreement.save()

    code, out, err = verify()
    assert code == 0, err
    assert f"ok {HISTORY}: {rows + 1} rows, {rows} written before later columns were added" in out

    tamper(HISTORY, "title = 'Ändrad'", f"history_id = {history_ids()[0]}")
    assert verify()[0] == 1


def test_chain_tables_cannot_be_given_a_hash_by_the_application(agreement):
    """Whatever the application puts in history_hash, the database sets it."""
    agreement.save()
    latest = agreement.history.latest()
    assert len(latest.history_hash) == 64
    with pytest.raises(DatabaseError), transaction.atomic():
        run_sql(f"UPDATE {HISTORY} SET history_hash = repeat('0', 64) WHERE history_id = %s", [latest.history_id])
