"""setup_database_roles: the owner and the application role with exactly the
grants README › The audit trail lists; idempotent; tables the owner's
migrations create later get the application's grants, narrowed where the
audit trail needs it."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from cases.audit import sql
from cases.audit.roles import check_app_role

from .conftest import as_role, run_sql

pytestmark = pytest.mark.django_db


def privileges(role, table):
    return {
        privilege
        for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
        if run_sql("SELECT has_table_privilege(%s, %s, %s)", [role, table, privilege])[0][0]
    }


def test_the_application_role_has_exactly_its_grants(database_roles):
    app = database_roles.app
    for table in ("cases_historicalagreement", "cases_historicalcollaborationarea_priorities", "accounts_signinevent"):
        assert privileges(app, table) == {"SELECT", "INSERT"}, table
    for table in ("cases_agreement", "accounts_membership", "workflows_taskdeadline"):
        assert privileges(app, table) == {"SELECT", "INSERT", "UPDATE"}, table  # nothing is deleted
    for table in ("django_session", "viewflow_task", "cases_collaborationarea_priorities", "axes_accessattempt"):
        assert privileges(app, table) == {"SELECT", "INSERT", "UPDATE", "DELETE"}, table
    assert privileges(app, "django_migrations") == {"SELECT"}
    sequence = run_sql("SELECT pg_get_serial_sequence('cases_historicalagreement', 'history_id')")[0][0]
    assert [
        run_sql("SELECT has_sequence_privilege(%s, %s, %s)", [app, sequence, p])[0][0]
        for p in ("USAGE", "SELECT", "UPDATE")
    ] == [True, True, True]
    database = connection.settings_dict["NAME"]
    assert run_sql("SELECT has_database_privilege(%s, %s, 'CONNECT')", [app, database])[0][0]
    assert not run_sql("SELECT has_database_privilege(%s, %s, 'TEMPORARY')", [app, database])[0][0]
    assert not run_sql("SELECT has_database_privilege(%s, %s, 'CREATE')", [app, database])[0][0]
    assert run_sql("SELECT has_schema_privilege(%s, current_schema(), 'USAGE')", [app])[0][0]
    assert not run_sql("SELECT has_schema_privilege(%s, current_schema(), 'CREATE')", [app])[0][0]
    assert run_sql("SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = %s", [app]) == [
        (False, False, False)
    ]


def test_setting_up_again_changes_nothing(database_roles):
    before = run_sql("SELECT relname, relacl::text FROM pg_class WHERE relnamespace = current_schema()::regnamespace")
    out = io.StringIO()
    call_command("setup_database_roles", owner=database_roles.owner, app=database_roles.app, stdout=out)
    assert "PROBLEM" not in out.getvalue()
    assert "0 objects given to it" in out.getvalue()
    after = run_sql("SELECT relname, relacl::text FROM pg_class WHERE relnamespace = current_schema()::regnamespace")
    assert sorted(after) == sorted(before)


def test_tables_created_later_by_the_owner_get_the_grants_and_history_is_narrowed(database_roles):
    with as_role(database_roles.owner):
        run_sql("CREATE TABLE cases_newthing (id bigserial PRIMARY KEY, note text)")
        run_sql("CREATE TABLE cases_historicalnewthing (history_id bigserial PRIMARY KEY, note text)")
        assert privileges(database_roles.app, "cases_newthing") == {"SELECT", "INSERT", "UPDATE", "DELETE"}
        # What InstallAuditTriggers does for a new history table, as the owner running the migration:
        run_sql(sql.revoke_changes_sql(sql.qualified(sql.app_schema(connection.cursor()), "cases_historicalnewthing")))
    assert privileges(database_roles.app, "cases_historicalnewthing") == {"SELECT", "INSERT"}


def test_an_unsafe_application_role_is_reported(database_roles):
    run_sql(f'GRANT TEMPORARY ON DATABASE "{connection.settings_dict["NAME"]}" TO "{database_roles.app}"')
    run_sql(f'GRANT "{database_roles.owner}" TO "{database_roles.app}"')
    problems = check_app_role(connection, app=database_roles.app, owner=database_roles.owner)
    assert problems == [
        f"{database_roles.app} can act as the owner {database_roles.owner}",
        f"{database_roles.app} may create temporary objects (TEMPORARY on the database)",
        f"{database_roles.app} may create objects in the schema (CREATE on the schema)",
    ]


def test_only_a_superuser_sets_roles_up(database_roles):
    with as_role(database_roles.app), pytest.raises(CommandError, match="needs a superuser"):
        call_command("setup_database_roles", owner=database_roles.owner, app=database_roles.app, stdout=io.StringIO())
