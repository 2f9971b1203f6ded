"""The attacks of issue #16, run AS THE APPLICATION'S DATABASE ROLE, set up
exactly as in production (``setup_database_roles``: tables owned by the owner
role, the application role with its grants only). Each is either refused by
PostgreSQL or reported by ``verify_audit`` with a non-zero exit naming the
table and the row.

Most tests switch the test's own connection to the application role for the
attack (``SET LOCAL ROLE``: that role's privileges, on the test's data);
``test_a_separate_login_as_the_application_role`` logs in as the role over a
connection of its own. The same attacks by a role above the application
(owner, superuser), who can switch triggers off, are caught by the signed
checkpoints (test_checkpoints.py)."""

import datetime

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import Membership, Organisation, Role
from cases.audit.roles import check_app_role
from cases.models import CollaborationArea, Decision, PlanPriority, Stage
from tests.factories import agreement_in_stage, user_with_role

from .conftest import as_role, copy_row_sql, refused, run_sql, verify

pytestmark = pytest.mark.django_db

HISTORY = "cases_historicalagreement"
M2M_HISTORY = "cases_historicalcollaborationarea_priorities"


def last_history_id(table=HISTORY, column="history_id"):
    return run_sql(f'SELECT max("{column}") FROM "{table}"')[0][0]


@pytest.fixture
def approved(db):
    """An agreement past both decisions (in signing): decisions, areas with priorities, history everywhere."""
    coordinator = user_with_role(Role.COORDINATOR, full_name="Anna Samordnare")
    return agreement_in_stage(Stage.SIGNING, "Mora", coordinator=coordinator)


def test_the_application_role_is_as_production_needs_it(database_roles):
    assert check_app_role(connection, app=database_roles.app, owner=database_roles.owner) == []
    owners = run_sql(
        "SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'S') AND c.relname LIKE %s",
        ["cases\\_%"],
    )
    assert owners == [(database_roles.owner,)]


def test_the_temp_view_trick_is_refused(database_roles, approved):
    """The hole of the review: a temporary ``pg_roles`` claiming superuser,
    then the maintenance setting, then DELETE. The application role may not
    create temporary objects at all..."""
    with as_role(database_roles.app):
        message = refused("CREATE TEMP VIEW pg_roles AS SELECT current_user::name AS rolname, true AS rolsuper")
        assert "permission denied to create temporary tables" in message


def test_the_temp_view_trick_fails_even_for_a_role_that_may_create_temporary_objects(database_roles, approved):
    """...and the functions would not be fooled anyway: they read
    ``pg_catalog.pg_roles`` with ``pg_temp`` last in their search path. A role
    given TEMPORARY and DELETE (which the application role has neither of)
    still cannot delete history."""
    spoofer = f"{database_roles.app}_spoofer"
    run_sql(f'CREATE ROLE "{spoofer}" IN ROLE "{database_roles.app}"')
    run_sql(f'GRANT TEMPORARY ON DATABASE "{connection.settings_dict["NAME"]}" TO "{spoofer}"')
    run_sql(f'GRANT DELETE ON "{HISTORY}" TO "{spoofer}"')
    rows = run_sql(f"SELECT count(*) FROM {HISTORY}")[0][0]
    with as_role(spoofer):
        run_sql("CREATE TEMP VIEW pg_roles AS SELECT current_user::name AS rolname, true AS rolsuper")
        assert run_sql("SELECT rolsuper FROM pg_roles")[0][0] is True  # the session is fooled...
        run_sql("SET LOCAL search_path = pg_temp, public, pg_catalog")
        run_sql("SET LOCAL samverkan.audit_maintenance = 'on'")
        message = refused(f"DELETE FROM {HISTORY} WHERE history_id = %s", [last_history_id()])
        assert f"DELETE on {HISTORY} is refused: the audit trail is append-only" in message  # ...the trigger not
        run_sql("SET LOCAL samverkan.audit_keep_time = 'on'")
        run_sql(copy_row_sql(HISTORY, "history_id", {"history_date": "'2024-01-01'"}, "true ORDER BY 1 LIMIT 1"))
        assert run_sql(f"SELECT max(history_date) FROM {HISTORY}")[0][0] > timezone.now() - datetime.timedelta(hours=1)
    assert run_sql(f"SELECT count(*) FROM {HISTORY}")[0][0] == rows + 1


@pytest.mark.parametrize("table", [HISTORY, M2M_HISTORY, "accounts_signinevent", "audit_auditcheckpoint"])
def test_deleting_updating_or_truncating_history_is_refused(database_roles, approved, table):
    """DELETE of the last row (the one a chain cannot show missing), any
    UPDATE (re-chaining a table means rewriting its hashes), TRUNCATE: the
    application role has no such privilege, maintenance setting or not."""
    id_column = {M2M_HISTORY: "m2m_history_id", HISTORY: "history_id"}.get(table, "id")
    hash_column = "chain_hash" if table.startswith(("accounts_", "audit_")) else "history_hash"
    with as_role(database_roles.app):
        run_sql("SET LOCAL samverkan.audit_maintenance = 'on'")
        for statement in (
            f'DELETE FROM "{table}" WHERE "{id_column}" = (SELECT max("{id_column}") FROM "{table}")',
            f'UPDATE "{table}" SET "{hash_column}" = repeat(\'0\', 64)',
            f'TRUNCATE "{table}"',
        ):
            assert f"permission denied for table {table}" in refused(statement)
    assert verify()[0] == 0


def test_the_application_role_cannot_switch_the_protection_off(database_roles, approved):
    with as_role(database_roles.app):
        assert "must be owner" in refused(f"ALTER TABLE {HISTORY} DISABLE TRIGGER samverkan_audit_append_only")
        assert "must be owner" in refused(f"DROP TRIGGER samverkan_audit_chain ON {HISTORY}")
        assert "permission denied for schema" in refused(
            "CREATE OR REPLACE FUNCTION samverkan_audit_superuser_setting(name text) RETURNS boolean "
            "LANGUAGE sql AS 'SELECT true'"
        )
        assert "permission denied for schema" in refused(
            "CREATE FUNCTION pg_roles() RETURNS int LANGUAGE sql AS 'SELECT 1'"
        )
        assert "permission denied for schema" in refused("CREATE TABLE pg_roles (rolname name, rolsuper boolean)")
        assert "must be owner" in refused(f"ALTER TABLE {HISTORY} OWNER TO CURRENT_USER")
    assert verify()[0] == 0


def test_deleting_many_to_many_history_is_refused_and_a_removed_row_breaks_its_chain(database_roles, approved):
    with as_role(database_roles.app):
        assert f"permission denied for table {M2M_HISTORY}" in refused(f"DELETE FROM {M2M_HISTORY}")
    # Whoever can switch the trigger off (the owner) and removes a link from the past breaks the chain:
    first = run_sql(f"SELECT min(m2m_history_id) FROM {M2M_HISTORY}")[0][0]
    run_sql("SET CONSTRAINTS ALL IMMEDIATE")
    run_sql(f"ALTER TABLE {M2M_HISTORY} DISABLE TRIGGER samverkan_audit_append_only")
    run_sql(f"DELETE FROM {M2M_HISTORY} WHERE m2m_history_id = %s", [first])
    run_sql(f"ALTER TABLE {M2M_HISTORY} ENABLE TRIGGER samverkan_audit_append_only")
    code, _out, err = verify()
    assert code == 1
    second = run_sql(f"SELECT min(m2m_history_id) FROM {M2M_HISTORY}")[0][0]
    assert f"BROKEN {M2M_HISTORY}: first broken row m2m_history_id={second}" in err


def test_a_backdated_forged_history_row_gets_the_database_time_and_is_reported(database_roles, approved):
    """The application role may insert history (that is its job), but not
    choose its time: whatever it sends, ``history_date`` is the database's
    clock, keep-time setting or not. A forged row that does not match the live
    agreement is then its latest history row, and verify_audit names it."""
    started = run_sql("SELECT clock_timestamp()")[0][0]
    forged = {
        "history_date": "'2024-01-01 12:00+01'",
        "history_ip": "'203.0.113.66'",
        "history_change_reason": "'Godkänd av alla'",
        "title": "'Ett annat avtal'",
        "history_hash": "repeat('a', 64)",
    }
    with as_role(database_roles.app):
        run_sql("SET LOCAL samverkan.audit_keep_time = 'on'")
        run_sql(copy_row_sql(HISTORY, "history_id", forged, f"id = {approved.pk} ORDER BY history_id DESC LIMIT 1"))
    row = approved.history.latest("history_id")
    assert (row.title, str(row.history_ip)) == ("Ett annat avtal", "203.0.113.66")
    assert row.history_date >= started  # not 2024
    assert row.history_hash != "a" * 64
    code, _out, err = verify()
    assert code == 1
    assert (
        f"LIVE cases_agreement: row id={approved.pk} differs from its latest history row (cases_historicalagreement)"
        in err
    )
    assert "BROKEN" not in err  # chained like any row: the forgery is in the open, with its real time


def test_links_cannot_be_added_to_the_past(database_roles, approved):
    """Many-to-many history has no time of its own: it belongs to a history
    row of the area. A link row for an older history row of the area (a
    backdated link) is refused."""
    area = CollaborationArea.objects.filter(agreement=approved).first()
    rows = list(area.history.order_by("history_id").values_list("history_id", flat=True))
    assert len(rows) >= 2
    other = PlanPriority.objects.exclude(pk__in=area.priorities.all()).first()
    with as_role(database_roles.app):
        message = refused(
            f"INSERT INTO {M2M_HISTORY} (id, collaborationarea_id, planpriority_id, history_id, history_hash) "
            "VALUES (999999, %s, %s, %s, '')",
            [area.pk, other.pk, rows[0]],
        )
        assert "must belong to the latest history row of its object" in message
        message = refused(  # …nor to another area's row
            f"INSERT INTO {M2M_HISTORY} (id, collaborationarea_id, planpriority_id, history_id, history_hash) "
            "VALUES (999999, %s, %s, %s, '')",
            [area.pk + 1000, other.pk, rows[-1]],
        )
        assert "must belong to the latest history row of its object" in message
    assert verify()[0] == 0


def test_a_direct_update_of_a_live_table_is_reported(database_roles, approved):
    decision = Decision.objects.filter(agreement=approved).first()
    assert decision.outcome == Decision.Outcome.APPROVED
    with as_role(database_roles.app):
        run_sql("UPDATE cases_decision SET outcome = 'rejected' WHERE id = %s", [decision.pk])
    code, _out, err = verify()
    assert code == 1
    assert (
        f"LIVE cases_decision: row id={decision.pk} differs from its latest history row (cases_historicaldecision)"
        in err
    )
    assert "The audit trail is NOT intact" in err


def test_a_direct_insert_into_a_live_table_is_reported(database_roles, approved):
    decision = Decision.objects.filter(agreement=approved).first()
    with as_role(database_roles.app):
        run_sql(copy_row_sql("cases_decision", "id", {"round": '"round" + 10'}, f"id = {decision.pk}"))
    new = Decision.objects.order_by("-id").first()
    code, _out, err = verify()
    assert code == 1
    assert f"LIVE cases_decision: row id={new.pk} has no history row (cases_historicaldecision)" in err


def test_a_membership_moved_without_history_is_reported(database_roles, approved):
    membership = Membership.objects.filter(organisation__name="Mora", role=Role.CULTURAL_HEAD).first()
    falun = Organisation.objects.get(name="Falun")
    with as_role(database_roles.app):
        run_sql("UPDATE accounts_membership SET organisation_id = %s WHERE id = %s", [falun.pk, membership.pk])
    code, _out, err = verify()
    assert code == 1
    assert f"LIVE accounts_membership: row id={membership.pk} differs from its latest history row" in err


def test_links_changed_without_history_are_reported(database_roles, approved):
    area = CollaborationArea.objects.filter(agreement=approved).first()
    other = PlanPriority.objects.filter(plan_period=approved.plan_period).exclude(pk__in=area.priorities.all()).first()
    with as_role(database_roles.app):
        run_sql(
            "INSERT INTO cases_collaborationarea_priorities (collaborationarea_id, planpriority_id) VALUES (%s, %s)",
            [area.pk, other.pk],
        )
    code, _out, err = verify()
    assert code == 1
    assert (
        f"LIVE cases_collaborationarea: row id={area.pk} has links that differ from those of its latest history row "
        f"(cases_collaborationarea_priorities, {M2M_HISTORY})"
    ) in err


def test_audited_live_rows_cannot_be_deleted(database_roles, approved):
    with as_role(database_roles.app):
        assert "permission denied for table cases_decision" in refused("DELETE FROM cases_decision")
        assert "permission denied for table cases_agreement" in refused("TRUNCATE cases_agreement CASCADE")


def test_a_separate_login_as_the_application_role(database_roles):
    """The role logs in over a connection of its own (as the application
    does) and meets the same walls. Only committed rows are visible to it: the
    organisations and their history written by the migrations."""
    params = connection.get_connection_params()
    for key in ("cursor_factory", "context", "password"):
        params.pop(key, None)
    params["user"] = database_roles.app
    rows = run_sql("SELECT count(*) FROM accounts_historicalorganisation")[0][0]
    with psycopg.connect(**params) as app:
        assert app.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user").fetchone() == (
            database_roles.app,
            False,
        )
        for statement, error in (
            ("CREATE TEMP TABLE t (x int)", "permission denied to create temporary tables"),
            ("CREATE TABLE t (x int)", "permission denied for schema"),
            ("DELETE FROM accounts_historicalorganisation", "permission denied"),
            ("ALTER TABLE accounts_historicalorganisation DISABLE TRIGGER ALL", "must be owner"),
        ):
            with pytest.raises(psycopg.Error, match=error):
                app.execute("SET samverkan.audit_maintenance = 'on'")
                app.execute(statement)
            app.rollback()
        # A backdated row, in a transaction that is rolled back: it gets the database's time.
        app.execute("SET samverkan.audit_keep_time = 'on'")
        app.execute(
            copy_row_sql(
                "accounts_historicalorganisation",
                "history_id",
                {"history_date": "'1999-12-31 12:00+01'"},
                "true ORDER BY history_id LIMIT 1",
            )
        )
        stored = app.execute("SELECT max(history_date) FROM accounts_historicalorganisation").fetchone()[0]
        assert stored > timezone.now() - datetime.timedelta(hours=1)
        app.rollback()
    assert run_sql("SELECT count(*) FROM accounts_historicalorganisation")[0][0] == rows


def test_a_live_row_removed_by_a_role_above_the_application_is_reported(approved):
    """The application role cannot delete audited rows (above); an owner or
    superuser who does leaves history saying the row exists."""
    decision = Decision.objects.filter(agreement=approved).order_by("-id").first()
    run_sql("SET CONSTRAINTS ALL IMMEDIATE")
    run_sql("DELETE FROM cases_decision WHERE id = %s", [decision.pk])
    code, _out, err = verify()
    assert code == 1
    assert f"LIVE cases_decision: row id={decision.pk} is missing, but its history does not record a deletion" in err
