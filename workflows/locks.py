"""The process lock: SELECT … FOR UPDATE on the process row, on PostgreSQL.

viewflow's ``lock.SelectForUpdateLock`` tries ``FOR UPDATE NOWAIT`` and, when
the row is taken, catches the DatabaseError *inside* its own atomic block and
sleeps before trying again. Called inside an outer transaction (a service that
locks the process, such as withdrawal) that leaves the outer transaction
aborted ("current transaction is aborted"), and the request ends in a 500 —
found by tests/reliability/test_races.py. This subclass keeps the same row
lock but takes it in a savepoint of its own, waiting up to ``timeout_ms`` for
the holder to finish (PostgreSQL's lock_timeout) instead of polling; a
timeout rolls back only that savepoint and raises FlowLockFailed, which the
views answer with 409."""

from contextlib import contextmanager

from django.db import DatabaseError, connection, transaction
from viewflow.workflow import lock
from viewflow.workflow.exceptions import FlowLockFailed


class ProcessRowLock(lock.SelectForUpdateLock):
    def __init__(self, timeout_ms=5000):
        super().__init__(nowait=False, attempts=1)
        self.timeout_ms = timeout_ms

    @contextmanager
    def __call__(self, flow_class, process_pk):
        with transaction.atomic():
            try:
                with transaction.atomic():  # a savepoint: a timeout rolls back only this
                    if connection.vendor == "postgresql":
                        with connection.cursor() as cursor:
                            cursor.execute("SET LOCAL lock_timeout = %s", [f"{int(self.timeout_ms)}ms"])
                    flow_class.process_class._default_manager.filter(pk=process_pk).select_for_update().exists()
            except DatabaseError as exc:
                raise FlowLockFailed(f"Lock failed for {flow_class} process {process_pk}") from exc
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = 0")
            yield
