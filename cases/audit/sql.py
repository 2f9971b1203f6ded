"""The PostgreSQL side of the audit trail, in one place.

Every protected table (each history table of simple-history, and append-only
records such as sign-in events) gets three triggers:

``samverkan_audit_append_only`` (BEFORE UPDATE OR DELETE, per row)
    refuses to change or delete a row. An UPDATE that changes nothing is let
    through (``loaddata`` saves rows that are already there with UPDATE).
``samverkan_audit_no_truncate`` (BEFORE TRUNCATE, per statement)
    refuses TRUNCATE.
``samverkan_audit_chain`` (BEFORE INSERT, per row; only on tables with a hash
column: ``history_hash`` on history tables, ``chain_hash`` on append-only
models)
    sets the row's hash to ``sha256(previous row's hash || canonical content
    of this row)``. There is one chain per table, ordered by its id column.

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
(``samverkan_audit_lock``), held until commit, then reads the last row (once
per transaction; later inserts of the same transaction remember it in a
transaction-local setting). Rows are therefore committed one after the other
in id order, and when a row waited for the lock behind a row with a higher id
it is given a new id from the table's sequence: the chain order is always the
id order, never forked. Rows that come with an explicit, increasing id
(deserialisation) keep it. The lock serialises the history writes to one
table from the first insert to commit; the services lock their rows
(select_for_update) before they write, and PostgreSQL resolves a deadlock by
aborting one transaction. Measured on PostgreSQL 15 here: about 0.1 ms per
inserted row, and ``verify_audit`` about 40 µs per row (200,000 rows in 8 s).

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

Maintenance
-----------
Nobody changes history, including the application. The single exception is a
maintenance session of a database *superuser* that first runs
``SET samverkan.audit_maintenance = 'on'``: then DELETE and TRUNCATE pass, and
an UPDATE leaves the row as it is (it "succeeds" without changing anything).
A non-superuser that sets the variable is still refused. Two paths of
Django's test machinery open such a session, through ``maintenance_session()``
below, and nothing else does:

- the ``flush`` management command of this app, which Django calls to empty
  the database (TRUNCATE) after each ``transaction=True`` test;
- the reloading of serialized data for ``serialized_rollback=True`` tests
  (``DatabaseCreation.deserialize_db_from_string``, wrapped in
  ``AuditConfig.ready``), which saves the rows that are already there again,
  with their timestamps cut to milliseconds: the history rows stay as they are.

For the protection to mean anything in production, the application's database
role must be neither a superuser nor the owner of the tables (an owner can
``ALTER TABLE … DISABLE TRIGGER``): run migrations as the owning role and the
application as a role with SELECT/INSERT/UPDATE/DELETE grants only, and keep
the heads printed by ``verify_audit --export-head`` outside the database.
"""

from contextlib import contextmanager

from django.db import DatabaseError

MAINTENANCE_SETTING = "samverkan.audit_maintenance"

APPEND_ONLY_TRIGGER = "samverkan_audit_append_only"
NO_TRUNCATE_TRIGGER = "samverkan_audit_no_truncate"
CHAIN_TRIGGER = "samverkan_audit_chain"
PROTECTION_TRIGGERS = (APPEND_ONLY_TRIGGER, NO_TRUNCATE_TRIGGER)

# The functions every protected table uses. Installed by audit.0001.
FUNCTIONS_SQL = r"""
CREATE OR REPLACE FUNCTION samverkan_audit_row_json(rec anyelement)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET TimeZone TO 'UTC'
SET DateStyle TO 'ISO, YMD'
SET IntervalStyle TO 'postgres'
SET extra_float_digits TO 1
SET bytea_output TO 'hex'
AS $fn$
BEGIN
    RETURN to_jsonb(rec);
END
$fn$;

CREATE OR REPLACE FUNCTION samverkan_audit_canonical(row_json jsonb, hash_column text, keep_columns text[] DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
AS $fn$
BEGIN
    IF keep_columns IS NULL THEN
        RETURN (row_json - hash_column)::text;
    END IF;
    RETURN (
        SELECT coalesce(jsonb_object_agg(field.key, field.value), '{}'::jsonb)::text
        FROM jsonb_each(row_json) AS field
        WHERE field.key = ANY (keep_columns) AND field.key <> hash_column
    );
END
$fn$;

CREATE OR REPLACE FUNCTION samverkan_audit_content(rec anyelement, hash_column text, keep_columns text[] DEFAULT NULL)
RETURNS text
LANGUAGE sql STABLE
AS $fn$
    SELECT samverkan_audit_canonical(samverkan_audit_row_json(rec), hash_column, keep_columns)
$fn$;

COMMENT ON FUNCTION samverkan_audit_content(anyelement, text, text[]) IS
    'Samverkan audit: the canonical content of a protected row (its jsonb text without the hash column).';

CREATE OR REPLACE FUNCTION samverkan_audit_hash(previous text, content text)
RETURNS text
LANGUAGE sql IMMUTABLE
AS $fn$
    SELECT encode(sha256(convert_to(coalesce(previous, '') || content, 'UTF8')), 'hex')
$fn$;

COMMENT ON FUNCTION samverkan_audit_hash(text, text) IS
    'Samverkan audit: sha256(previous hash || canonical content), hex.';

CREATE OR REPLACE FUNCTION samverkan_audit_lock(tbl regclass)
RETURNS void
LANGUAGE sql VOLATILE
AS $fn$
    SELECT pg_advisory_xact_lock(hashtextextended('samverkan_audit_chain:' || tbl::text, 0))
$fn$;

CREATE OR REPLACE FUNCTION samverkan_audit_maintenance_allowed()
RETURNS boolean
LANGUAGE sql STABLE
AS $fn$
    SELECT coalesce(current_setting('samverkan.audit_maintenance', true), '') = 'on'
       AND coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false)
$fn$;

CREATE OR REPLACE FUNCTION samverkan_audit_refuse_change()
RETURNS trigger
LANGUAGE plpgsql
AS $fn$
DECLARE
    unchanged boolean;
BEGIN
    IF samverkan_audit_maintenance_allowed() THEN
        -- DELETE and TRUNCATE pass (the test flush); an UPDATE keeps the row as it is (Django reloading
        -- serialized test data that is already there, with timestamps cut to milliseconds).
        IF TG_OP IN ('DELETE', 'TRUNCATE') THEN
            PERFORM set_config('samverkan_audit.head_' || TG_RELID::bigint, '', true);  -- the chain's end moved
        END IF;
        RETURN CASE TG_OP WHEN 'DELETE' THEN OLD WHEN 'UPDATE' THEN OLD ELSE NULL END;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        EXECUTE 'SELECT to_jsonb($1) = to_jsonb($2)' INTO unchanged USING NEW, OLD;
        IF unchanged THEN
            RETURN NEW;  -- nothing changes (loaddata saves rows that are already there)
        END IF;
    END IF;
    RAISE EXCEPTION USING
        ERRCODE = 'insufficient_privilege',
        MESSAGE = format('%s on %s is refused: the audit trail is append-only.', TG_OP, TG_TABLE_NAME),
        HINT = 'History rows are only ever inserted. Change the data through the application''s '
               'service functions, which write new history rows.';
END
$fn$;

CREATE OR REPLACE FUNCTION samverkan_audit_chain()
RETURNS trigger
LANGUAGE plpgsql
AS $fn$
DECLARE
    id_column text := TG_ARGV[0];
    hash_column text := TG_ARGV[1];
    tbl text := format('%I.%I', TG_TABLE_SCHEMA, TG_TABLE_NAME);
    last_id bigint;
    last_hash text;
    new_id bigint;
    seq text;
    row_json jsonb;
    new_hash text;
    head text;
    head_setting text := 'samverkan_audit.head_' || TG_RELID::bigint;
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'object_not_in_prerequisite_state',
            MESSAGE = format('Rows of %s must be written in a READ COMMITTED transaction (this one is %s).',
                             TG_TABLE_NAME, current_setting('transaction_isolation')),
            HINT = 'The hash chain links each row to the last committed one, which an older snapshot cannot see.';
    END IF;
    PERFORM samverkan_audit_lock(TG_RELID);
    -- The chain's last row: read from the table at the first insert of the transaction, then remembered in a
    -- transaction-local setting (the lock is held until commit, so no one else can add a row; a rolled-back
    -- savepoint restores the setting with the rows).
    head := current_setting(head_setting, true);
    IF coalesce(head, '') = '' THEN
        EXECUTE format('SELECT %I, %I FROM %s ORDER BY %I DESC LIMIT 1', id_column, hash_column, tbl, id_column)
            INTO last_id, last_hash;
    ELSE
        last_id := split_part(head, ' ', 1)::bigint;
        last_hash := nullif(split_part(head, ' ', 2), '');
    END IF;
    -- NEW is only read and written by EXECUTEd statements: their plans are not cached, so a column added to
    -- the table earlier in the same transaction (a migration) is seen.
    EXECUTE 'SELECT samverkan_audit_row_json($1)' INTO row_json USING NEW;
    new_id := (row_json ->> id_column)::bigint;
    IF new_id IS NULL OR new_id <= last_id THEN
        -- This row waited behind one with a higher id: take the next id, so that the id order is the chain order.
        seq := pg_get_serial_sequence(tbl, id_column);
        IF seq IS NULL THEN
            RAISE EXCEPTION 'The hash chain of % needs a sequence-backed id column %.', TG_TABLE_NAME, id_column;
        END IF;
        new_id := nextval(seq);
        IF new_id <= last_id THEN
            PERFORM setval(seq, last_id);
            new_id := nextval(seq);
        END IF;
        row_json := row_json || jsonb_build_object(id_column, new_id);
    END IF;
    new_hash := samverkan_audit_hash(last_hash, samverkan_audit_canonical(row_json, hash_column));
    EXECUTE 'SELECT * FROM jsonb_populate_record($1, $2)' INTO NEW
        USING NEW, jsonb_build_object(id_column, new_id, hash_column, new_hash);
    PERFORM set_config(head_setting, new_id || ' ' || new_hash, true);
    RETURN NEW;
END
$fn$;

-- Verification of one row against the previous row's stored hash: 'ok', 'older_columns' (the row matches the
-- columns that existed when it was written: the leading columns in attnum order) or 'broken'.
CREATE OR REPLACE FUNCTION samverkan_audit_check(
    previous text, rec anyelement, hash_column text, stored text, tbl regclass
)
RETURNS text
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    columns text[];
    n integer;
BEGIN
    IF stored = samverkan_audit_hash(previous, samverkan_audit_content(rec, hash_column)) THEN
        RETURN 'ok';
    END IF;
    SELECT array_agg(attname::text ORDER BY attnum) INTO columns
    FROM pg_attribute
    WHERE attrelid = tbl AND attnum > 0 AND NOT attisdropped AND attname <> hash_column;
    FOR n IN REVERSE coalesce(array_length(columns, 1), 0) - 1 .. 1 LOOP
        IF stored = samverkan_audit_hash(previous, samverkan_audit_content(rec, hash_column, columns[1:n])) THEN
            RETURN 'older_columns';
        END IF;
    END LOOP;
    RETURN 'broken';
END
$fn$;

-- Chain the rows a table already holds when it is first protected (e.g. rows from data migrations), in id order.
-- Does nothing when any row already has a hash: an existing chain is never recomputed.
CREATE OR REPLACE FUNCTION samverkan_audit_seal(tbl regclass, id_column text, hash_column text)
RETURNS bigint
LANGUAGE plpgsql
AS $fn$
DECLARE
    row_data record;
    previous text;
    sealed bigint := 0;
    already boolean;
BEGIN
    EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', tbl);
    PERFORM samverkan_audit_lock(tbl);
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE coalesce(%I, '''') <> '''')', tbl, hash_column) INTO already;
    IF already THEN
        RETURN 0;
    END IF;
    FOR row_data IN EXECUTE format('SELECT * FROM %s ORDER BY %I', tbl, id_column) LOOP
        previous := samverkan_audit_hash(previous, samverkan_audit_content(row_data, hash_column));
        EXECUTE format('UPDATE %s SET %I = $1 WHERE %I = ($2 ->> %L)::bigint', tbl, hash_column, id_column, id_column)
            USING previous, to_jsonb(row_data);
        sealed := sealed + 1;
    END LOOP;
    RETURN sealed;
END
$fn$;
"""

DROP_FUNCTIONS_SQL = """
DROP FUNCTION IF EXISTS samverkan_audit_seal(regclass, text, text);
DROP FUNCTION IF EXISTS samverkan_audit_check(text, anyelement, text, text, regclass);
DROP FUNCTION IF EXISTS samverkan_audit_chain();
DROP FUNCTION IF EXISTS samverkan_audit_refuse_change();
DROP FUNCTION IF EXISTS samverkan_audit_maintenance_allowed();
DROP FUNCTION IF EXISTS samverkan_audit_lock(regclass);
DROP FUNCTION IF EXISTS samverkan_audit_hash(text, text);
DROP FUNCTION IF EXISTS samverkan_audit_content(anyelement, text, text[]);
DROP FUNCTION IF EXISTS samverkan_audit_canonical(jsonb, text, text[]);
DROP FUNCTION IF EXISTS samverkan_audit_row_json(anyelement);
"""


def _ident(name):
    """Quote an identifier for SQL (table and column names come from Django models)."""
    return '"' + name.replace('"', '""') + '"'


def _literal(value):
    return "'" + value.replace("'", "''") + "'"


def install_sql(table, id_column, hash_column=None):
    """The statements that protect ``table``: seal the rows it already has,
    then install the chain trigger (when it has a hash column) and the
    append-only triggers. Idempotent: existing triggers are replaced, an
    existing chain is kept."""
    t = _ident(table)
    statements = uninstall_sql(table)
    if hash_column:
        statements += [
            f"SELECT samverkan_audit_seal({_literal(table)}::regclass, {_literal(id_column)}, {_literal(hash_column)})",
            f"CREATE TRIGGER {CHAIN_TRIGGER} BEFORE INSERT ON {t} FOR EACH ROW "
            f"EXECUTE FUNCTION samverkan_audit_chain({_literal(id_column)}, {_literal(hash_column)})",
        ]
    statements += [
        f"CREATE TRIGGER {APPEND_ONLY_TRIGGER} BEFORE UPDATE OR DELETE ON {t} FOR EACH ROW "
        f"EXECUTE FUNCTION samverkan_audit_refuse_change()",
        f"CREATE TRIGGER {NO_TRUNCATE_TRIGGER} BEFORE TRUNCATE ON {t} FOR EACH STATEMENT "
        f"EXECUTE FUNCTION samverkan_audit_refuse_change()",
    ]
    return statements


def uninstall_sql(table):
    """The statements that remove the triggers from ``table`` (the hashes stay)."""
    t = _ident(table)
    return [f"DROP TRIGGER IF EXISTS {name} ON {t}" for name in (CHAIN_TRIGGER, *PROTECTION_TRIGGERS)]


def verify_sql(table, id_column, hash_column):
    """One pass over a chain, in id order, entirely in the database (a window
    function; nothing is loaded into Python): rows checked, rows matching an
    older column set, broken rows, the first broken id, the last id."""
    t, i, h = _ident(table), _ident(id_column), _ident(hash_column)
    # Identifiers come from model metadata and are quoted; there are no user values here.
    return f"""
        SELECT count(*),
               count(*) FILTER (WHERE status = 'older_columns'),
               count(*) FILTER (WHERE status = 'broken'),
               min(row_id) FILTER (WHERE status = 'broken'),
               max(row_id)
        FROM (
            SELECT t.{i} AS row_id,
                   samverkan_audit_check(lag(t.{h}) OVER (ORDER BY t.{i}), t, {_literal(hash_column)}, t.{h},
                                         {_literal(table)}::regclass) AS status
            FROM {t} AS t
        ) AS chain
    """  # noqa: S608


def head_sql(table, id_column, hash_column):
    t, i, h = _ident(table), _ident(id_column), _ident(hash_column)
    return f"SELECT {i}, {h} FROM {t} ORDER BY {i} DESC LIMIT 1"  # noqa: S608 (quoted identifiers)


def row_hash_sql(table, id_column, hash_column):
    t, i, h = _ident(table), _ident(id_column), _ident(hash_column)
    return f"SELECT {h} FROM {t} WHERE {i} = %s"  # noqa: S608 (quoted identifiers)


TRIGGERS_SQL = """
    SELECT c.relname, t.tgname, t.tgenabled
    FROM pg_trigger t
    JOIN pg_class c ON c.oid = t.tgrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE NOT t.tgisinternal AND t.tgname LIKE 'samverkan\\_audit\\_%%' AND n.nspname = current_schema()
"""


@contextmanager
def maintenance_session(connection):
    """Let this database session of a superuser update, delete and truncate
    protected tables for the duration of the block (the test flush). For any
    other role the triggers still refuse."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(f"SET {MAINTENANCE_SETTING} = 'on'")
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"RESET {MAINTENANCE_SETTING}")
        except DatabaseError:
            # A failed transaction is rolled back, and a SET inside it with it;
            # a broken connection is closed and takes the setting with it.
            pass
