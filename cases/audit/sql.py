"""The PostgreSQL side of the audit trail, in one place.

Every protected table (each history table of simple-history, the history
tables of many-to-many fields, and append-only records such as sign-in events,
audit exports and checkpoints) gets three triggers:

``samverkan_audit_append_only`` (BEFORE UPDATE OR DELETE, per row)
    refuses to change or delete a row. An UPDATE that changes nothing is let
    through (``loaddata`` saves rows that are already there with UPDATE).
``samverkan_audit_no_truncate`` (BEFORE TRUNCATE, per statement)
    refuses TRUNCATE.
``samverkan_audit_chain`` (BEFORE INSERT, per row; every protected table has
a hash column: ``history_hash`` on history tables, ``chain_hash`` on
append-only models)
    sets the row's time from the database clock, refuses a row that would go
    back in time or claim a many-to-many state for an old history row, and
    sets the row's hash to ``sha256(previous row's hash || canonical content
    of this row)``. There is one chain per table, ordered by its id column.

Installing a table's triggers (``InstallAuditTriggers``) also revokes UPDATE,
DELETE and TRUNCATE on it from every role but its owner, so that a role given
everything by default privileges keeps only SELECT and INSERT there.

The hash chain
--------------
``samverkan_audit_content(row, hash_column)`` is the canonical content: the
row as ``to_jsonb`` minus the hash column, in text form (jsonb sorts its keys,
so the text is deterministic). It runs with fixed TimeZone, DateStyle,
IntervalStyle, extra_float_digits and bytea_output, so the text does not depend
on the session that wrote or reads the row. ``samverkan_audit_hash(previous,
content)`` is ``encode(sha256(convert_to(coalesce(previous, '') || content,
'UTF8')), 'hex')``: the first row of a chain has no previous hash.

``samverkan_audit_content`` is ``samverkan_audit_canonical`` (the jsonb text
minus the hash column) of ``samverkan_audit_row_json`` (``to_jsonb`` under the
fixed settings); the trigger calls the same two on NEW. The trigger and
``verify_audit`` therefore share every function, so the application and the
database cannot disagree about a hash.

An insert takes a transaction-level advisory lock per table
(``samverkan_audit_lock``), held until commit, then reads the chain's last row
(every insert reads it again: nothing a session can set, such as a custom
setting, is trusted to remember it). Rows are therefore committed one after
the other in id order, and when a row waited for the lock behind a row with a
higher id it is given a new id from the table's sequence: the chain order is
always the id order, never forked. Rows that come with an explicit, increasing
id (deserialisation) keep it. The lock serialises the history writes to one
table from the first insert to commit; the services lock their rows
(select_for_update) before they write, and PostgreSQL resolves a deadlock by
aborting one transaction.

History must be written in READ COMMITTED transactions (Django's default): a
REPEATABLE READ or SERIALIZABLE snapshot could not see the last committed row
and would fork the chain, so the trigger refuses it with a clear error.

Columns added to a history table later (a new field on an audited model) are
part of the content of the rows written after they were added. ``verify_audit``
accepts an older row when it matches the content of the columns that existed
when it was written (the leading columns in ``attnum`` order) and counts those
rows separately; a row matching neither is broken. Dropping or renaming a
history column therefore shows up as broken rows: history columns are only
ever added.

Time and order come from the database
-------------------------------------
A row's time (``history_date`` of history rows, ``at`` of append-only
records) is set by the trigger to ``clock_timestamp()`` taken *after* the
chain lock is held, whatever the client sent: every row committed before it in
the chain got its time while holding the same lock, earlier, so the times of a
chain never go backwards. Should the database clock itself step back (a badly
set server clock), the insert is refused rather than given a time before the
chain's last row. (Rows of one transaction therefore differ by microseconds,
in the order they were inserted.) The rows of a many-to-many history table
have no time of their own: they belong to a row of the parent history table,
and the trigger refuses one that does not belong to the latest history row of
its object (or names another object than that row), so links cannot be added
to the past.

Keeping the client's time: synthetic data (the bulk-loader contract)
--------------------------------------------------------------------
A session of a database **superuser** that runs
``SET samverkan.audit_keep_time = 'on'`` keeps the ``history_date`` / ``at``
its rows come with, the backwards-time check is skipped and so is the
many-to-many parent check. Nothing else changes: rows are still chained,
append-only, renumbered when their id is not above the chain's last. A
non-superuser that sets the variable is ignored (its rows get the database's
time), so the application's role can never use it. This is for generated
data only: the load-data generator and tests that move the clock. A bulk
loader must

1. connect as a superuser and ``SET samverkan.audit_keep_time = 'on'`` on
   every connection that inserts history (it is a session setting: set it
   again after a reconnect; ``SET LOCAL`` for one transaction also works);
2. insert each chain's rows in the order of their ids and times, in READ
   COMMITTED transactions (COPY is fine: the trigger runs per row), history
   rows of a many-to-many field after the parent history rows they point to;
3. write no time later than the database clock at load time: the
   application's next row in that chain would otherwise be refused as going
   back in time until the clock has passed it;
4. set each sequence past the ids it wrote (``setval``), and let the trigger
   set every hash (whatever is sent in the hash column is replaced);
5. leave every live row equal to its latest history row (``verify_audit``
   compares them), and never disable a trigger.

Maintenance
-----------
Nobody changes history, including the application. The single exception is a
maintenance session of a database *superuser* that first runs
``SET samverkan.audit_maintenance = 'on'``: then DELETE and TRUNCATE pass, an
UPDATE leaves the row as it is (it "succeeds" without changing anything), and
rows keep their time as with ``audit_keep_time``. A non-superuser that sets
the variable is still refused. Two paths of Django's test machinery open such
a session, through ``maintenance_session()`` below, and nothing else does:

- the ``flush`` management command of this app, which Django calls to empty
  the database (TRUNCATE) after each ``transaction=True`` test;
- the reloading of serialized data for ``serialized_rollback=True`` tests
  (``DatabaseCreation.deserialize_db_from_string``, wrapped in
  ``AuditConfig.ready``), which saves the rows that are already there again,
  with their timestamps cut to milliseconds: the history rows stay as they are.

No spoofable lookups
--------------------
Every function is created in the schema the migrations run in (the "app
schema", ``current_schema()`` of the migrating session) and names its
catalogue objects (``pg_catalog.pg_roles``, ``pg_catalog.pg_attribute``…)
and the other audit functions with their schema. Those that look anything up
(tables, operators, the triggers) run with
``SET search_path = pg_catalog, <app schema>, pg_temp``; the three that run
for every row of a chain (canonical, content, hash) name every function,
operator and type with its schema, so they look nothing up and need no search
path (a SET clause would cost a settings push per call and keep the SQL ones
from being inlined: verification was 1.7 times slower). ``pg_temp`` comes last, so
a temporary table or view (``CREATE TEMP VIEW pg_roles …``) can never stand
in for a catalogue or an application table, and PostgreSQL never looks up
functions or operators in ``pg_temp`` at all. The triggers name the functions
they execute when they are created, so they are bound to them by oid. Table
names are passed to ``regclass`` qualified with the app schema, and
``verify_audit`` runs with the same fixed search path. Whether a session may
keep time or do maintenance is decided by ``rolsuper`` of ``current_user`` in
``pg_catalog.pg_roles``: a role cannot make itself a superuser.

For the protection to mean anything in production, the application's database
role must be neither a superuser nor the owner of the tables (an owner can
``ALTER TABLE … DISABLE TRIGGER``), and must not be able to create objects
(no CREATE on the schema, no TEMPORARY on the database): run migrations as the
owning role and the application as a role with the grants that
``manage.py setup_database_roles`` gives it (README › The audit trail).
Checkpoints signed outside the database (``checkpoints.py``) catch what a
role above the application (an owner or superuser) could still do: rows
removed from the end of a chain, a chain recomputed after a change.
"""

from contextlib import contextmanager

from django.db import DatabaseError

MAINTENANCE_SETTING = "samverkan.audit_maintenance"
KEEP_TIME_SETTING = "samverkan.audit_keep_time"

APPEND_ONLY_TRIGGER = "samverkan_audit_append_only"
NO_TRUNCATE_TRIGGER = "samverkan_audit_no_truncate"
CHAIN_TRIGGER = "samverkan_audit_chain"
PROTECTION_TRIGGERS = (APPEND_ONLY_TRIGGER, NO_TRUNCATE_TRIGGER)

SCHEMA_PLACEHOLDER = "@schema@"
# The fixed settings of every function: the catalogue first, the app schema, temporary objects last.
_PATH = f"SET search_path = pg_catalog, {SCHEMA_PLACEHOLDER}, pg_temp"
# The settings under which a row's text is canonical (to_jsonb of timestamps, floats, bytea).
_CANONICAL = """SET TimeZone TO 'UTC'
SET DateStyle TO 'ISO, YMD'
SET IntervalStyle TO 'postgres'
SET extra_float_digits TO 1
SET bytea_output TO 'hex'"""

# The functions every protected table uses. Installed by audit.0001 and replaced by later migrations
# (InstallAuditFunctions), in the app schema (@schema@ is replaced by its quoted name).
FUNCTIONS_SQL = rf"""
CREATE OR REPLACE FUNCTION @schema@.samverkan_audit_row_json(rec anyelement)
RETURNS jsonb
LANGUAGE plpgsql STABLE
{_PATH}
{_CANONICAL}
AS $fn$
BEGIN
    RETURN pg_catalog.to_jsonb(rec);
END
$fn$;

-- canonical, content and hash run once or more per row of a chain (insert and verification): they name every
-- function, operator and type with its schema, so they look nothing up and need no search path of their own
-- (a SET clause would cost a settings push per call and keep SQL functions from being inlined).
CREATE OR REPLACE FUNCTION @schema@.samverkan_audit_canonical(
    row_json jsonb, hash_column text, keep_columns text[] DEFAULT NULL
)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
AS $fn$
BEGIN
    IF keep_columns IS NULL THEN
        RETURN (row_json OPERATOR(pg_catalog.-) hash_column)::pg_catalog.text;
    END IF;
    RETURN (
        SELECT coalesce(pg_catalog.jsonb_object_agg(field.key, field.value), '{{}}'::pg_catalog.jsonb)::pg_catalog.text
        FROM pg_catalog.jsonb_each(row_json) AS field
        WHERE field.key OPERATOR(pg_catalog.=) ANY (keep_columns) AND field.key OPERATOR(pg_catalog.<>) hash_column
    );
END
$fn$;

CREATE OR REPLACE FUNCTION @schema@.samverkan_audit_content(
    rec anyelement, hash_column text, keep_columns text[] DEFAULT NULL
)
RETURNS text
LANGUAGE sql STABLE
AS $fn$
    SELECT @schema@.samverkan_audit_canonical(@schema@.samverkan_audit_row_json(rec), hash_column, keep_columns)
$fn$;

COMMENT ON FUNCTION @schema@.samverkan_audit_content(anyelement, text, text[]) IS
    'Samverkan audit: the canonical content of a protected row (its jsonb text without the hash column).';

CREATE OR REPLACE FUNCTION @schema@.samverkan_audit_hash(previous text, content text)
RETURNS text
LANGUAGE sql IMMUTABLE
AS $fn$
    SELECT pg_catalog.encode(
        pg_catalog.sha256(
            pg_catalog.convert_to(coalesce(previous, ''::pg_catalog.text) OPERATOR(pg_catalog.||) content, 'UTF8')
        ),
        'hex'
    )
$fn$;

COMMENT ON FUNCTION @schema@.samverkan_audit_hash(text, text) IS
    'Samverkan audit: sha256(previous hash || canonical content), hex.';

CREATE OR REPLACE FUNCTION @schema@.samverkan_audit_lock(tbl regclass)
RETURNS void
LANGUAGE sql VOLATILE
{_PATH}
AS $fn$
    SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('samverkan_audit_chain:' || tbl::oid::text, 0))
$fn$;

-- True when the setting is 'on' and the current role is a superuser (decided from the catalogue, never from
-- anything the session can define).
CREATE OR REPLACE FUNCTION @schema@.samverkan_audit_superuser_setting(name text)
RETURNS boolean
LANGUAGE sql STABLE
{_PATH}
AS $fn$
    SELECT coalesce(pg_catalog.current_setting(name, true), '') = 'on'
       AND coalesce(
           (SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = CURRENT_USER), false
       )
$fn$;

CREATE OR REPLACE FUNCTION @schema@.samverkan_audit_refuse_change()
RETURNS trigger
LANGUAGE plpgsql
{_PATH}
AS $fn$
DECLARE
    unchanged boolean;
BEGIN
    IF @schema@.samverkan_audit_superuser_setting('{MAINTENANCE_SETTING}') THEN
        -- DELETE and TRUNCATE pass (the test flush); an UPDATE keeps the row as it is (Django reloading
        -- serialized test data that is already there, with timestamps cut to milliseconds).
        RETURN CASE TG_OP WHEN 'DELETE' THEN OLD WHEN 'UPDATE' THEN OLD ELSE NULL END;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        EXECUTE 'SELECT pg_catalog.to_jsonb($1) = pg_catalog.to_jsonb($2)' INTO unchanged USING NEW, OLD;
        IF unchanged THEN
            RETURN NEW;  -- nothing changes (loaddata saves rows that are already there)
        END IF;
    END IF;
    RAISE EXCEPTION USING
        ERRCODE = 'insufficient_privilege',
        MESSAGE = pg_catalog.format('%s on %s is refused: the audit trail is append-only.', TG_OP, TG_TABLE_NAME),
        HINT = 'History rows are only ever inserted. Change the data through the application''s '
               'service functions, which write new history rows.';
END
$fn$;

-- BEFORE INSERT of every protected table. Arguments: the id column, the hash column, the time column ('' for
-- none) and, for the history of a many-to-many field: the parent history table (qualified), this table's column
-- pointing at the parent row, the parent's id column, the parent's object column and this table's object column.
CREATE OR REPLACE FUNCTION @schema@.samverkan_audit_chain()
RETURNS trigger
LANGUAGE plpgsql
{_PATH}
{_CANONICAL}
AS $fn$
DECLARE
    id_column text := TG_ARGV[0];
    hash_column text := TG_ARGV[1];
    time_column text := nullif(TG_ARGV[2], '');
    tbl text := pg_catalog.format('%I.%I', TG_TABLE_SCHEMA, TG_TABLE_NAME);
    keep_time boolean;
    last_id bigint;
    last_hash text;
    last_time timestamptz;
    new_id bigint;
    new_time timestamptz;
    seq text;
    row_json jsonb;
    changes jsonb;
    parent_id bigint;
    parent_object bigint;
    later boolean;
BEGIN
    IF pg_catalog.current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'object_not_in_prerequisite_state',
            MESSAGE = pg_catalog.format('Rows of %s must be written in a READ COMMITTED transaction (this one is %s).',
                                        TG_TABLE_NAME, pg_catalog.current_setting('transaction_isolation')),
            HINT = 'The hash chain links each row to the last committed one, which an older snapshot cannot see.';
    END IF;
    keep_time := @schema@.samverkan_audit_superuser_setting('{KEEP_TIME_SETTING}')
                 OR @schema@.samverkan_audit_superuser_setting('{MAINTENANCE_SETTING}');
    PERFORM @schema@.samverkan_audit_lock(TG_RELID);
    -- The chain's last row, read after the lock: every row committed before this one is visible (READ COMMITTED
    -- takes a new snapshot for each statement), and no one else can add a row until this transaction ends.
    IF time_column IS NULL THEN
        EXECUTE pg_catalog.format('SELECT %I, %I FROM %s ORDER BY %I DESC LIMIT 1',
                                  id_column, hash_column, tbl, id_column)
            INTO last_id, last_hash;
    ELSE
        EXECUTE pg_catalog.format('SELECT %I, %I, %I FROM %s ORDER BY %I DESC LIMIT 1',
                                  id_column, hash_column, time_column, tbl, id_column)
            INTO last_id, last_hash, last_time;
    END IF;
    -- NEW is only read and written by EXECUTEd statements: their plans are not cached, so a column added to
    -- the table earlier in the same transaction (a migration) is seen.
    EXECUTE 'SELECT @schema@.samverkan_audit_row_json($1)' INTO row_json USING NEW;
    new_id := (row_json ->> id_column)::bigint;
    IF new_id IS NULL OR new_id <= last_id THEN
        -- This row waited behind one with a higher id: take the next id, so that the id order is the chain order.
        seq := pg_catalog.pg_get_serial_sequence(tbl, id_column);
        IF seq IS NULL THEN
            RAISE EXCEPTION 'The hash chain of % needs a sequence-backed id column %.', TG_TABLE_NAME, id_column;
        END IF;
        new_id := pg_catalog.nextval(seq::regclass);
        IF new_id <= last_id THEN
            PERFORM pg_catalog.setval(seq::regclass, last_id);
            new_id := pg_catalog.nextval(seq::regclass);
        END IF;
    END IF;
    changes := pg_catalog.jsonb_build_object(id_column, new_id);
    IF time_column IS NOT NULL AND NOT keep_time THEN
        new_time := pg_catalog.clock_timestamp();
        IF new_time < last_time THEN
            RAISE EXCEPTION USING
                ERRCODE = 'check_violation',
                MESSAGE = pg_catalog.format(
                    'A row of %s would go back in time: the database clock says %s, the chain''s last row %s.',
                    TG_TABLE_NAME, new_time, last_time),
                HINT = 'The time of an audit row comes from the database clock, which must not be set back.';
        END IF;
        changes := changes || pg_catalog.jsonb_build_object(time_column, new_time);
    END IF;
    IF TG_NARGS > 3 AND NOT keep_time THEN
        -- Many-to-many history: the links belong to the latest history row of their object.
        parent_id := (row_json ->> TG_ARGV[4])::bigint;
        EXECUTE pg_catalog.format('SELECT p.%I FROM %s AS p WHERE p.%I = $1', TG_ARGV[6], TG_ARGV[3], TG_ARGV[5])
            INTO parent_object USING parent_id;
        EXECUTE pg_catalog.format('SELECT EXISTS (SELECT 1 FROM %s AS p WHERE p.%I = $1 AND p.%I > $2)',
                                  TG_ARGV[3], TG_ARGV[6], TG_ARGV[5])
            INTO later USING parent_object, parent_id;
        IF parent_object IS NULL OR parent_object IS DISTINCT FROM (row_json ->> TG_ARGV[7])::bigint OR later THEN
            RAISE EXCEPTION USING
                ERRCODE = 'check_violation',
                MESSAGE = pg_catalog.format(
                    'A row of %s must belong to the latest history row of its object (%s %s is not).',
                    TG_TABLE_NAME, TG_ARGV[4], parent_id),
                HINT = 'Many-to-many history is written with the parent history row, never added to the past.';
        END IF;
    END IF;
    row_json := row_json || changes;
    changes := changes || pg_catalog.jsonb_build_object(
        hash_column,
        @schema@.samverkan_audit_hash(last_hash, @schema@.samverkan_audit_canonical(row_json, hash_column))
    );
    EXECUTE 'SELECT * FROM pg_catalog.jsonb_populate_record($1, $2)' INTO NEW USING NEW, changes;
    RETURN NEW;
END
$fn$;

-- Verification of one row against the previous row's stored hash: 'ok', 'older_columns' (the row matches the
-- columns that existed when it was written: the leading columns in attnum order) or 'broken'.
CREATE OR REPLACE FUNCTION @schema@.samverkan_audit_check(
    previous text, rec anyelement, hash_column text, stored text, tbl regclass
)
RETURNS text
LANGUAGE plpgsql STABLE
{_PATH}
AS $fn$
DECLARE
    columns text[];
    n integer;
BEGIN
    IF stored = @schema@.samverkan_audit_hash(previous, @schema@.samverkan_audit_content(rec, hash_column)) THEN
        RETURN 'ok';
    END IF;
    SELECT pg_catalog.array_agg(a.attname::text ORDER BY a.attnum) INTO columns
    FROM pg_catalog.pg_attribute AS a
    WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped AND a.attname <> hash_column;
    FOR n IN REVERSE coalesce(pg_catalog.array_length(columns, 1), 0) - 1 .. 1 LOOP
        IF stored = @schema@.samverkan_audit_hash(
            previous, @schema@.samverkan_audit_content(rec, hash_column, columns[1:n])
        ) THEN
            RETURN 'older_columns';
        END IF;
    END LOOP;
    RETURN 'broken';
END
$fn$;

-- Chain the rows a table already holds when it is first protected (e.g. rows from data migrations), in id order.
-- Does nothing when any row already has a hash: an existing chain is never recomputed.
CREATE OR REPLACE FUNCTION @schema@.samverkan_audit_seal(tbl regclass, id_column text, hash_column text)
RETURNS bigint
LANGUAGE plpgsql
{_PATH}
AS $fn$
DECLARE
    row_data record;
    previous text;
    sealed bigint := 0;
    already boolean;
BEGIN
    EXECUTE pg_catalog.format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', tbl);
    PERFORM @schema@.samverkan_audit_lock(tbl);
    EXECUTE pg_catalog.format('SELECT EXISTS (SELECT 1 FROM %s WHERE coalesce(%I, '''') <> '''')',
                              tbl, hash_column) INTO already;
    IF already THEN
        RETURN 0;
    END IF;
    FOR row_data IN EXECUTE pg_catalog.format('SELECT * FROM %s ORDER BY %I', tbl, id_column) LOOP
        previous := @schema@.samverkan_audit_hash(previous, @schema@.samverkan_audit_content(row_data, hash_column));
        EXECUTE pg_catalog.format('UPDATE %s SET %I = $1 WHERE %I = ($2 ->> %L)::bigint',
                                  tbl, hash_column, id_column, id_column)
            USING previous, pg_catalog.to_jsonb(row_data);
        sealed := sealed + 1;
    END LOOP;
    RETURN sealed;
END
$fn$;
"""  # noqa: S608 (no user values: identifiers are passed to format() with %I)

# Functions of earlier versions that the current set no longer has.
OBSOLETE_FUNCTIONS_SQL = """
DROP FUNCTION IF EXISTS @schema@.samverkan_audit_maintenance_allowed();
"""

DROP_FUNCTIONS_SQL = """
DROP FUNCTION IF EXISTS @schema@.samverkan_audit_seal(regclass, text, text);
DROP FUNCTION IF EXISTS @schema@.samverkan_audit_check(text, anyelement, text, text, regclass);
DROP FUNCTION IF EXISTS @schema@.samverkan_audit_chain();
DROP FUNCTION IF EXISTS @schema@.samverkan_audit_refuse_change();
DROP FUNCTION IF EXISTS @schema@.samverkan_audit_superuser_setting(text);
DROP FUNCTION IF EXISTS @schema@.samverkan_audit_lock(regclass);
DROP FUNCTION IF EXISTS @schema@.samverkan_audit_hash(text, text);
DROP FUNCTION IF EXISTS @schema@.samverkan_audit_content(anyelement, text, text[]);
DROP FUNCTION IF EXISTS @schema@.samverkan_audit_canonical(jsonb, text, text[]);
DROP FUNCTION IF EXISTS @schema@.samverkan_audit_row_json(anyelement);
"""


def ident(name):
    """Quote an identifier for SQL (schema, table and column names come from Django models)."""
    return '"' + name.replace('"', '""') + '"'


def literal(value):
    return "'" + value.replace("'", "''") + "'"


def qualified(schema, table):
    return f"{ident(schema)}.{ident(table)}"


def app_schema(cursor):
    """The schema the application's tables and the audit functions live in:
    the first schema of the session's search path, where Django creates and
    finds its tables. Read it before fixing the search path."""
    cursor.execute("SELECT pg_catalog.current_schema()")
    schema = cursor.fetchone()[0]
    if not schema or schema == "pg_catalog":
        raise DatabaseError("No application schema: the search path names no schema that exists.")
    return schema


@contextmanager
def fixed_search_path(cursor):
    """Inside a transaction: the catalogue first, the app schema, temporary
    objects last, for the duration of the block (the session's own search
    path is put back after it). Yields the app schema."""
    schema = app_schema(cursor)
    cursor.execute("SELECT pg_catalog.current_setting('search_path')")
    previous = cursor.fetchone()[0]
    cursor.execute(f"SET LOCAL search_path = pg_catalog, {ident(schema)}, pg_temp")
    yield schema
    cursor.execute("SELECT pg_catalog.set_config('search_path', %s, true)", [previous])


def in_schema(statements, schema):
    return statements.replace(SCHEMA_PLACEHOLDER, ident(schema))


def install_sql(table, id_column, hash_column, *, schema, time_column=None, parent=None):
    """The statements that protect ``table``: seal the rows it already has,
    install the chain trigger and the append-only triggers, and revoke UPDATE,
    DELETE and TRUNCATE from every role but the owner. ``parent`` (for the
    history of a many-to-many field): (parent table, this table's column
    pointing at the parent row, the parent's id column, the parent's object
    column, this table's object column). Idempotent: existing triggers are
    replaced, an existing chain is kept."""
    t = qualified(schema, table)
    fn = ident(schema)
    args = [id_column, hash_column, time_column or ""]
    if parent is not None:
        parent_table, link_column, parent_id_column, parent_object_column, object_column = parent
        args += [qualified(schema, parent_table), link_column, parent_id_column, parent_object_column, object_column]
    statements = uninstall_sql(table, schema=schema)
    if hash_column:  # (only the many-to-many history tables of early migrations had none)
        statements += [
            f"SELECT {fn}.samverkan_audit_seal({literal(t)}::regclass, {literal(id_column)}, {literal(hash_column)})",
            f"CREATE TRIGGER {CHAIN_TRIGGER} BEFORE INSERT ON {t} FOR EACH ROW "
            f"EXECUTE FUNCTION {fn}.samverkan_audit_chain({', '.join(literal(a) for a in args)})",
        ]
    statements += [
        f"CREATE TRIGGER {APPEND_ONLY_TRIGGER} BEFORE UPDATE OR DELETE ON {t} FOR EACH ROW "
        f"EXECUTE FUNCTION {fn}.samverkan_audit_refuse_change()",
        f"CREATE TRIGGER {NO_TRUNCATE_TRIGGER} BEFORE TRUNCATE ON {t} FOR EACH STATEMENT "
        f"EXECUTE FUNCTION {fn}.samverkan_audit_refuse_change()",
        revoke_changes_sql(t),
    ]
    return statements


def revoke_changes_sql(qualified_table):
    """Take UPDATE, DELETE and TRUNCATE on a protected table from every role
    but its owner (including PUBLIC), whoever granted them (e.g. default
    privileges that give the application's role everything on new tables)."""
    return f"""
DO $do$
DECLARE
    grantee_name text;
BEGIN
    FOR grantee_name IN
        SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(r.rolname) END
        FROM pg_catalog.pg_class AS c
        CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) AS a
        LEFT JOIN pg_catalog.pg_roles AS r ON r.oid = a.grantee
        WHERE c.oid = {literal(qualified_table)}::regclass AND a.grantee <> c.relowner
          AND a.privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE')
    LOOP
        EXECUTE pg_catalog.format('REVOKE UPDATE, DELETE, TRUNCATE ON TABLE %s FROM %s',
                                  {literal(qualified_table)}, grantee_name);
    END LOOP;
END
$do$"""  # noqa: S608 (the table name comes from model metadata, quoted)


def uninstall_sql(table, *, schema):
    """The statements that remove the triggers from ``table`` (the hashes stay)."""
    t = qualified(schema, table)
    return [f"DROP TRIGGER IF EXISTS {name} ON {t}" for name in (CHAIN_TRIGGER, *PROTECTION_TRIGGERS)]


def verify_sql(table, id_column, hash_column, *, schema):
    """One pass over a chain, in id order, entirely in the database (a window
    function; nothing is loaded into Python): rows checked, rows matching an
    older column set, broken rows, the first broken id, the last id."""
    t, i, h = qualified(schema, table), ident(id_column), ident(hash_column)
    # Identifiers come from model metadata and are quoted; there are no user values here.
    return f"""
        SELECT count(*),
               count(*) FILTER (WHERE status = 'older_columns'),
               count(*) FILTER (WHERE status = 'broken'),
               min(row_id) FILTER (WHERE status = 'broken'),
               max(row_id)
        FROM (
            SELECT t.{i} AS row_id,
                   {ident(schema)}.samverkan_audit_check(
                       lag(t.{h}) OVER (ORDER BY t.{i}), t, {literal(hash_column)}, t.{h}, {literal(t)}::regclass
                   ) AS status
            FROM {t} AS t
        ) AS chain
    """  # noqa: S608


def head_sql(table, id_column, hash_column, *, schema):
    t, i, h = qualified(schema, table), ident(id_column), ident(hash_column)
    return f"SELECT {i}, {h} FROM {t} ORDER BY {i} DESC LIMIT 1"  # noqa: S608 (quoted identifiers)


def row_hash_sql(table, id_column, hash_column, *, schema):
    t, i, h = qualified(schema, table), ident(id_column), ident(hash_column)
    return f"SELECT {h} FROM {t} WHERE {i} = %s"  # noqa: S608 (quoted identifiers)


def rows_after_sql(table, id_column, *, schema):
    t, i = qualified(schema, table), ident(id_column)
    return f"SELECT count(*) FROM {t} WHERE {i} > %s"  # noqa: S608 (quoted identifiers)


TRIGGERS_SQL = """
    SELECT c.relname, t.tgname, t.tgenabled
    FROM pg_catalog.pg_trigger AS t
    JOIN pg_catalog.pg_class AS c ON c.oid = t.tgrelid
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    WHERE NOT t.tgisinternal AND t.tgname LIKE 'samverkan\\_audit\\_%%' AND n.nspname = %s
"""


@contextmanager
def superuser_session(connection, setting):
    """Turn ``setting`` on for this database session for the duration of the
    block. It takes effect only for a superuser (the functions above check
    ``rolsuper``); for any other role the triggers behave as always."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(f"SET {setting} = 'on'")
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"RESET {setting}")
        except DatabaseError:
            # A failed transaction is rolled back, and a SET inside it with it;
            # a broken connection is closed and takes the setting with it.
            pass


def maintenance_session(connection):
    """Let this database session of a superuser update, delete and truncate
    protected tables for the duration of the block (the test flush). For any
    other role the triggers still refuse."""
    return superuser_session(connection, MAINTENANCE_SETTING)


def keep_time_session(connection):
    """Let this database session of a superuser write history with the times
    its rows come with (synthetic data, tests that move the clock). For any
    other role rows get the database's time."""
    return superuser_session(connection, KEEP_TIME_SETTING)
