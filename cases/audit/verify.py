"""Verifying the hash chains, in the database.

Each chain is walked in id order by one SQL statement (a window function
passes each row its predecessor's stored hash), recomputing every hash with
the same SQL functions as the insert trigger. Python receives one summary row
per chain, so a table of any size is checked without loading it.
"""

from dataclasses import dataclass

from django.db import connections, transaction

from . import sql
from .tables import ProtectedTable, chains, missing_protection, protected_tables


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

    @property
    def intact(self):
        return not self.unprotected and not self.head_problems and all(c.intact for c in self.chains)


def verify_chain(connection, table: ProtectedTable) -> ChainReport:
    with connection.cursor() as cursor:
        cursor.execute(sql.verify_sql(table.table, table.id_column, table.hash_column))
        rows, older, broken, first_broken, _last = cursor.fetchone()
        cursor.execute(sql.head_sql(table.table, table.id_column, table.hash_column))
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


def check_heads(connection, heads, tables=None):
    """Each head exported earlier must still be in its chain with the same
    hash: a missing row means the chain was cut, another hash that it was
    rewritten."""
    by_table = {t.table: t for t in (tables if tables is not None else chains())}
    problems = []
    with connection.cursor() as cursor:
        for table_name, row_id, expected in heads:
            table = by_table.get(table_name)
            if table is None:
                problems.append(f"{table_name}: not a hash-chained table")
                continue
            cursor.execute(sql.row_hash_sql(table.table, table.id_column, table.hash_column), [row_id])
            found = cursor.fetchone()
            if found is None:
                problems.append(f"{table_name}: exported head {row_id} is no longer in the chain (rows were removed)")
            elif found[0] != expected:
                problems.append(f"{table_name}: exported head {row_id} has another hash now (the chain was rewritten)")
    return problems


def verify_audit(using="default", heads=None) -> AuditReport:
    """Check that every protected table has its triggers and every chain is
    intact (and, given exported heads, still contains them). One consistent
    snapshot when called outside a transaction."""
    connection = connections[using]
    outermost = not connection.in_atomic_block
    with transaction.atomic(using=using):
        if outermost:  # inside an outer transaction, its snapshot is used
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        tables = protected_tables()
        unprotected = missing_protection(connection)
        reports = [verify_chain(connection, t) for t in tables if t.hash_column]
        head_problems = check_heads(connection, heads, [t for t in tables if t.hash_column]) if heads else []
    return AuditReport(chains=reports, unprotected=unprotected, head_problems=head_problems)
