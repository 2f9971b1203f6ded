"""Verifying the audit trail, in the database.

Each chain is walked in id order by one SQL statement (a window function
passes each row its predecessor's stored hash), recomputing every hash with
the same SQL functions as the insert trigger. Python receives one summary row
per chain, so a table of any size is checked without loading it. Then the
live rows are compared with their history (``live.py``) and the signed
checkpoints with the chains (``checkpoints.py``).

Everything is read in one REPEATABLE READ snapshot, with the search path
fixed to ``pg_catalog, <app schema>, pg_temp`` (see sql.py: nothing the
session defined can stand in for a catalogue or an application table).
"""

from dataclasses import dataclass, field

from django.db import connections, transaction

from . import live, sql
from .checkpoints import CheckpointReport, check_checkpoints
from .tables import ProtectedTable, missing_protection, protected_tables


@dataclass(frozen=True)
class ChainReport:
    table: ProtectedTable
    rows: int
    older_columns: int  # rows that match the columns that existed when they were written
    broken: int
    first_broken_id: int | None
    head_id: int | None
    head_hash: str | None

    @property
    def intact(self):
        return self.broken == 0


@dataclass(frozen=True)
class AuditReport:
    chains: list[ChainReport]
    unprotected: list[tuple[ProtectedTable, list[str]]]
    head_problems: list[str]
    live_problems: list = field(default_factory=list)  # [live.LiveProblem]
    live_checked: bool = False
    checkpoints: CheckpointReport | None = None

    @property
    def intact(self):
        return (
            not self.unprotected
            and not self.head_problems
            and not self.live_problems
            and not (self.checkpoints and self.checkpoints.problems)
            and all(c.intact for c in self.chains)
        )


def verify_chain(cursor, table: ProtectedTable, schema) -> ChainReport:
    cursor.execute(sql.verify_sql(table.table, table.id_column, table.hash_column, schema=schema))
    rows, older, broken, first_broken, _last = cursor.fetchone()
    cursor.execute(sql.head_sql(table.table, table.id_column, table.hash_column, schema=schema))
    head = cursor.fetchone() or (None, None)
    return ChainReport(
        table=table,
        rows=rows,
        older_columns=older,
        broken=broken,
        first_broken_id=first_broken,
        head_id=head[0],
        head_hash=head[1],
    )


def parse_heads(lines):
    """Heads as printed by ``verify_audit --export-head``: "table id hash" per
    line; blank lines and lines starting with # are ignored."""
    heads = []
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 3 or not parts[1].isdigit() or len(parts[2]) != 64:
            raise ValueError(f"Line {number} is not 'table id hash': {line!r}")
        heads.append((parts[0], int(parts[1]), parts[2]))
    return heads


def check_heads(cursor, heads, tables, schema):
    """Each head exported earlier must still be in its chain with the same
    hash: a missing row means the chain was cut, another hash that it was
    rewritten."""
    by_table = {t.table: t for t in tables}
    problems = []
    for table_name, row_id, expected in heads:
        table = by_table.get(table_name)
        if table is None:
            problems.append(f"{table_name}: not a hash-chained table")
            continue
        cursor.execute(sql.row_hash_sql(table.table, table.id_column, table.hash_column, schema=schema), [row_id])
        found = cursor.fetchone()
        if found is None:
            problems.append(f"{table_name}: exported head {row_id} is no longer in the chain (rows were removed)")
        elif found[0] != expected:
            problems.append(f"{table_name}: exported head {row_id} has another hash now (the chain was rewritten)")
    return problems


def verify_audit(using="default", heads=None, *, live_rows=True, exported_checkpoints=None) -> AuditReport:
    """Check that every protected table has its triggers and every chain is
    intact (and, given exported heads, still contains them); that every live
    row equals its latest history row (``live_rows``); and that the signed
    checkpoints (and exported ones, if given) verify and their heads are
    still in the chains. One consistent snapshot when called outside a
    transaction."""
    connection = connections[using]
    outermost = not connection.in_atomic_block
    with transaction.atomic(using=using), connection.cursor() as cursor:
        if outermost:  # inside an outer transaction, its snapshot is used
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        with sql.fixed_search_path(cursor) as schema:
            return _verify(connection, cursor, schema, heads, live_rows, exported_checkpoints)


def _verify(connection, cursor, schema, heads, live_rows, exported_checkpoints):
    tables = protected_tables()
    unprotected = missing_protection(connection, schema=schema)
    chained = [t for t in tables if t.hash_column]
    reports = [verify_chain(cursor, t, schema) for t in chained]
    head_problems = check_heads(cursor, heads, chained, schema) if heads else []
    live_problems = live.compare(cursor, schema) if live_rows else []
    checkpoint_report = check_checkpoints(cursor, schema, exported_checkpoints)
    return AuditReport(
        chains=reports,
        unprotected=unprotected,
        head_problems=head_problems,
        live_problems=live_problems,
        live_checked=live_rows,
        checkpoints=checkpoint_report,
    )
