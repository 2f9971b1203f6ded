"""The two database roles the audit trail relies on, set up by the project.

The triggers of ``sql.py`` protect history against the application's role
only if that role cannot switch them off or around them. So production runs
with two roles (README › The audit trail):

the owner (default ``samverkan_owner``)
    owns the schema's tables, sequences and audit functions and runs the
    migrations (``manage.py migrate``). Not a superuser.
the application (default ``samverkan_app``)
    serves the site, the worker and cron. It may connect, use the schema, and
    SELECT, INSERT, UPDATE and DELETE the tables, with these exceptions:
    protected tables (history, sign-in events, exports, checkpoints) SELECT
    and INSERT only; live tables of audited models no DELETE (nothing is
    deleted); ``django_migrations`` SELECT only. Sequences: USAGE, SELECT and
    UPDATE (the chain trigger may move a history sequence past the chain's
    last id). No TEMPORARY on the database and no CREATE on the schema, so it
    can define no object that could stand in for another; not a superuser,
    not a member of the owner, owner of nothing.

Tables created later by the owner's migrations get the application's grants
through default privileges; ``InstallAuditTriggers`` takes UPDATE, DELETE and
TRUNCATE back from a new protected table. ``setup_roles()`` is idempotent:
run it (``manage.py setup_database_roles``, as a superuser) once before the
first migration and again after each ``migrate``. Creating a role that
another session creates at the same moment is harmless (roles are shared by
every database of the cluster).
"""

from dataclasses import dataclass

from django.apps import apps
from django.db import transaction
from simple_history.models import HistoricalChanges

from . import sql
from .tables import protected_tables

# Relation kinds of pg_class and the ALTER that changes their owner.
ALTER = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE"}


@dataclass(frozen=True)
class RoleCheck:
    problems: list  # what makes the application's role unsafe; empty when it is as it must be


def _create_role(cursor, name):
    cursor.execute(
        f"""
        DO $do$
        BEGIN
            CREATE ROLE {sql.ident(name)} NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;  -- there already (perhaps created by another session just now)
        END
        $do$"""
    )
    cursor.execute(
        f"ALTER ROLE {sql.ident(name)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT"
    )


def _audited_live_tables():
    return sorted(
        {
            model.instance_type._meta.db_table
            for model in apps.get_models()
            if issubclass(model, HistoricalChanges) and hasattr(model, "tracked_fields")
        }
    )


def _take_ownership(cursor, schema, owner):
    """Make ``owner`` the owner of every relation of the schema (but those of
    extensions) and of the audit functions."""
    changed = 0
    for kinds in (("r", "p", "v", "m"), ("S",)):  # tables first: their own sequences follow them
        cursor.execute(
            """
            SELECT c.relname, c.relkind FROM pg_catalog.pg_class AS c
            JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
            WHERE n.nspname = %s AND c.relkind = ANY(%s) AND c.relowner <> %s::regrole
              AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend AS d
                              WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
                                AND d.deptype IN ('e', 'a', 'i'))
            ORDER BY c.relname
            """,
            [schema, list(kinds), sql.ident(owner)],
        )
        for name, kind in cursor.fetchall():
            cursor.execute(f"ALTER {ALTER[kind]} {sql.qualified(schema, name)} OWNER TO {sql.ident(owner)}")
            changed += 1
    cursor.execute(
        """
        SELECT p.oid::regprocedure::text FROM pg_catalog.pg_proc AS p
        JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
        WHERE n.nspname = %s AND p.proname LIKE 'samverkan\\_audit\\_%%' AND p.proowner <> %s::regrole
        """,
        [schema, sql.ident(owner)],
    )
    for (signature,) in cursor.fetchall():
        cursor.execute(f"ALTER FUNCTION {signature} OWNER TO {sql.ident(owner)}")
        changed += 1
    return changed


def setup_roles(connection, *, owner="samverkan_owner", app="samverkan_app", log=print):
    """Create or correct both roles and every grant (see the module's
    docstring) on ``connection``'s database and schema. The connection must
    be a superuser's."""
    if owner == app:
        raise ValueError("The owner and the application need two different roles.")
    o, a = sql.ident(owner), sql.ident(app)
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_catalog.current_database(), r.rolsuper FROM pg_catalog.pg_roles AS r "
            "WHERE r.rolname = CURRENT_USER"
        )
        database, superuser = cursor.fetchone()
        if not superuser:
            raise PermissionError("Setting up the database roles needs a superuser's connection.")
        schema = sql.app_schema(cursor)
        d, s = sql.ident(database), sql.ident(schema)
        _create_role(cursor, owner)
        _create_role(cursor, app)
        # The application must not be able to become the owner.
        cursor.execute(
            "SELECT 1 FROM pg_catalog.pg_auth_members WHERE roleid = %s::regrole AND member = %s::regrole", [o, a]
        )
        if cursor.fetchone():
            cursor.execute(f"REVOKE {o} FROM {a}")

        # The database: connect, and no temporary objects for anyone who is not given them explicitly.
        cursor.execute(f"REVOKE TEMPORARY ON DATABASE {d} FROM PUBLIC")
        cursor.execute(f"REVOKE ALL ON DATABASE {d} FROM {a}")
        cursor.execute(f"GRANT CONNECT ON DATABASE {d} TO {o}, {a}")
        # The schema: only the owner creates objects in it.
        cursor.execute(f"REVOKE CREATE ON SCHEMA {s} FROM PUBLIC")
        cursor.execute(f"REVOKE ALL ON SCHEMA {s} FROM {a}")
        cursor.execute(f"GRANT USAGE, CREATE ON SCHEMA {s} TO {o}")
        cursor.execute(f"GRANT USAGE ON SCHEMA {s} TO {a}")

        changed = _take_ownership(cursor, schema, owner)

        # Tables and sequences that exist, and those the owner's migrations create later.
        cursor.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {a}")
        cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {a}")
        cursor.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM {a}")
        cursor.execute(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {s} TO {a}")
        cursor.execute(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA {s} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {a}"
        )
        cursor.execute(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA {s} GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {a}"
        )
        # Narrower where the application needs less.
        existing = set(connection.introspection.table_names(cursor))
        for table in protected_tables():
            if table.table in existing:
                cursor.execute(sql.revoke_changes_sql(sql.qualified(schema, table.table)))
        for table in _audited_live_tables():
            if table in existing:
                cursor.execute(f"REVOKE DELETE, TRUNCATE ON {sql.qualified(schema, table)} FROM {a}")
        if "django_migrations" in existing:
            cursor.execute(f"REVOKE INSERT, UPDATE, DELETE ON {sql.qualified(schema, 'django_migrations')} FROM {a}")
        log(
            f"Roles set up on {database} (schema {schema}): owner {owner} ({changed} objects given to it), "
            f"application {app}."
        )
    problems = check_app_role(connection, app=app, owner=owner)
    for problem in problems:
        log(f"PROBLEM: {problem}")
    return problems


def check_app_role(connection, *, app, owner):
    """[problem] that would let ``app`` get around the audit triggers on this
    database; empty when it is as ``setup_roles`` leaves it."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT r.rolsuper, r.rolbypassrls, r.rolcreaterole,
                   pg_catalog.pg_has_role(r.oid, %s::regrole, 'USAGE'),
                   pg_catalog.has_database_privilege(r.oid, pg_catalog.current_database(), 'TEMPORARY'),
                   pg_catalog.has_database_privilege(r.oid, pg_catalog.current_database(), 'CREATE'),
                   pg_catalog.has_schema_privilege(r.oid, pg_catalog.current_schema(), 'CREATE'),
                   (SELECT count(*) FROM pg_catalog.pg_class AS c WHERE c.relowner = r.oid)
            FROM pg_catalog.pg_roles AS r WHERE r.rolname = %s
            """,
            [sql.ident(owner), app],
        )
        row = cursor.fetchone()
    if row is None:
        return [f"the role {app} does not exist"]
    superuser, bypassrls, createrole, is_owner, temporary, create_schema, create_objects, owned = row
    checks = [
        (superuser, "is a superuser"),
        (bypassrls, "bypasses row-level security"),
        (createrole, "may create roles"),
        (is_owner, f"can act as the owner {owner}"),
        (temporary, "may create temporary objects (TEMPORARY on the database)"),
        (create_schema, "may create schemas (CREATE on the database)"),
        (create_objects, "may create objects in the schema (CREATE on the schema)"),
        (owned, f"owns {owned} relations"),
    ]
    return [f"{app} {what}" for failed, what in checks if failed]
