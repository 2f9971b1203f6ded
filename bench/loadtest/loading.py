"""Loading clones into PostgreSQL with COPY, psycopg encoding each row
(``copy.write_row``).

Rows are gathered per table in a ``Batch``; a ``Loader`` COPYs each batch.
With workers, each table of a batch (or group of tables whose foreign keys
point at each other, as a process and its tasks do) is COPYed and committed
on its own by the next free connection, once the tables it refers to (its
foreign keys, read from the database) are committed in that batch and the
same table of the last batch that had it is too (a hash chain takes its rows
in id order, and a renewal refers to an agreement of an earlier batch). The
history tables refer to nothing but users, so they start at once, one
connection per chain. Without workers each batch goes into one transaction of
the caller's connection (tests).

The database's hash-chain trigger runs for every history row, as for any
insert; nothing bypasses or disables it. Each connection asks it to keep the
history times given (``keep_history_times``): the load's history is
simulated, and happened when the clones say."""

import threading

from django.db import connection, transaction
from psycopg import sql

from .templates import keep_history_times


class Batch:
    """Rows of many clones, per table, in id order."""

    def __init__(self):
        self.tables = {}  # name -> (columns, rows)

    def rows(self, table, columns):
        entry = self.tables.get(table)
        if entry is None:
            entry = self.tables[table] = (columns, [])
        return entry[1]

    def __len__(self):
        return sum(len(rows) for _c, rows in self.tables.values())


def copy_rows(cursor, table, columns, rows):
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
    with cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


_references = None


def references():
    """{table: tables its foreign keys point to}, from the database."""
    global _references
    if _references is None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint "
                "WHERE contype = 'f' AND connamespace = current_schema()::regnamespace"
            )
            found = {}
            for table, target in cursor.fetchall():
                if table != target:
                    found.setdefault(table.strip('"'), set()).add(target.strip('"'))
        _references = found
    return _references


def groups(tables):
    """``tables`` in groups loaded together (tables whose foreign keys point at
    each other, e.g. a process and its tasks), each group after those it refers to."""
    tables = set(tables)
    refers = {t: references().get(t, set()) & tables for t in tables}
    reach = {}
    for table in tables:  # what each table reaches through its foreign keys
        seen, todo = set(), [table]
        while todo:
            for target in refers[todo.pop()] - seen:
                seen.add(target)
                todo.append(target)
        reach[table] = seen
    group_of = {t: frozenset({t} | {o for o in reach[t] if t in reach[o]}) for t in tables}
    pending, done, result = set(group_of.values()), set(), []
    while pending:
        group = min(g for g in pending if all(r in g or r in done for t in g for r in refers[t]))
        pending.remove(group)
        result.append(tuple(sorted(group)))
        done |= group
    return result


class Loader:
    """COPYs batches while the next one is being made (see the module's docstring)."""

    def __init__(self, *, workers=2, ahead=3):
        self.workers = workers
        self.ahead = ahead  # batches waiting to be loaded before submit() waits: the memory they take
        self.lock = threading.Condition()
        self.pending = []  # (batch number, group of tables)
        self.data = {}  # batch number -> Batch
        self.previous = {}  # (batch number, table) -> the last earlier batch with that table
        self.last_with = {}  # table -> the last batch with it
        self.committed = set()  # (batch number, table)
        self.batches = 0
        self.closed = False
        self.errors = []
        self.counts = {}
        self.threads = []
        if workers:
            references()  # read once, in this thread
            self.params = connection.get_connection_params()
            self.threads = [threading.Thread(target=self._work, daemon=True) for _ in range(workers)]
            for thread in self.threads:
                thread.start()

    def submit(self, batch):
        number = self.batches
        self.batches += 1
        for table, (_columns, rows) in batch.tables.items():
            self.counts[table] = self.counts.get(table, 0) + len(rows)
        if not self.workers:
            with transaction.atomic(), connection.cursor() as cursor:  # foreign keys are checked at commit
                keep_history_times(cursor, local=True)
                for group in groups(batch.tables):
                    for table in group:
                        copy_rows(cursor.cursor, table, *batch.tables[table])
            return
        # One job per group of tables; the largest first (the history tables, which take longest).
        jobs = sorted(
            ((number, group) for group in groups(batch.tables)),
            key=lambda job: -sum(len(batch.tables[t][1]) for t in job[1]),
        )
        with self.lock:
            while len(self.data) >= self.ahead and not self.errors:
                self.lock.wait()
            if self.errors:
                raise self.errors[0]
            self.data[number] = batch
            for table in batch.tables:
                self.previous[(number, table)] = self.last_with.get(table)
                self.last_with[table] = number
            self.pending.extend(jobs)
            self.lock.notify_all()

    def _ready(self, number, group):
        tables = self.data[number].tables
        needs = {(number, t) for table in group for t in references().get(table, ()) if t in tables and t not in group}
        needs |= {(self.previous[(number, t)], t) for t in group if self.previous[(number, t)] is not None}
        return needs <= self.committed

    def _next(self):
        with self.lock:
            while True:
                if self.errors:
                    return None
                for job in self.pending:
                    if self._ready(job[0], job[1]):
                        self.pending.remove(job)
                        return job
                if self.closed and not self.pending:
                    return None
                self.lock.wait()

    def _work(self):
        import psycopg

        try:
            with psycopg.connect(**self.params) as conn:
                conn.execute("SET synchronous_commit = off")  # a benchmark database: speed over durability
                keep_history_times(conn.cursor(), local=False)
                conn.commit()
                while (job := self._next()) is not None:
                    number, group = job
                    with conn.cursor() as cursor:
                        for table in group:
                            copy_rows(cursor, table, *self.data[number].tables[table])
                    conn.commit()
                    with self.lock:
                        self.committed |= {(number, table) for table in group}
                        if all((number, t) in self.committed for t in self.data[number].tables):
                            del self.data[number]  # loaded: its rows can go
                        self.lock.notify_all()
        except Exception as exc:  # raised in the main thread
            with self.lock:
                self.errors.append(exc)
                self.lock.notify_all()

    def finish(self):
        with self.lock:
            self.closed = True
            self.lock.notify_all()
        for thread in self.threads:
            thread.join()
        if self.errors:
            raise self.errors[0]
        return self.counts
