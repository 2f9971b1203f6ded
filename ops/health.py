"""/healthz and /readyz: for load balancers, systemd and monitoring.

``/healthz`` answers 200 while the process serves requests; it touches
nothing else. ``/readyz`` answers 200 when every readiness check passes and
503 naming the failing checks otherwise: this server should get traffic only
when it is ready. Neither needs a sign-in, and neither says more than that.

Readiness checks are a small registry: a check is a function that returns
None when all is well, or raises / returns a short reason (logged, never
shown). Built in: ``database`` (a query answers) and ``migrations`` (every
migration this code knows is applied). The background worker adds its own,
e.g. "the queue is not stuck"::

    from ops.health import readiness_check

    @readiness_check("worker_queue")
    def queue_not_stuck():
        oldest = ...  # the age of the oldest job ready to run
        if oldest > limit:
            return f"oldest job waiting {oldest}s"
"""

import logging
import threading

from django.db import DEFAULT_DB_ALIAS, connections

logger = logging.getLogger(__name__)

_checks = {}


def readiness_check(name):
    """Register the decorated function as the readiness check ``name``."""

    def register(func):
        _checks[name] = func
        return func

    return register


def registered_checks():
    return dict(_checks)


def run_checks():
    """[names of the failing checks], in registration order. When the
    database does not answer, that is the one failure named: every other
    check reads the database, and would only fail for the same reason (or
    not, depending on what a server process happened to remember)."""
    failing = []
    for name, check in list(_checks.items()):
        if failing == ["database"]:
            break
        try:
            problem = check()
        except Exception as exc:  # any failure of a check means "not ready"
            problem = f"{type(exc).__name__}: {exc}"
        if problem:
            logger.warning("Readiness check %s failed: %s", name, problem)
            failing.append(name)
    return failing


def database_answers():
    connection = connections[DEFAULT_DB_ALIAS]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        connection.close_if_unusable_or_obsolete()
        raise


class _MigrationsApplied:
    """True once every migration on disk is recorded as applied. The graph is
    read once per process (the files do not change under a running server);
    a positive answer is remembered, a negative one asked again next time."""

    def __init__(self):
        self._nodes = None
        self._ok = False
        self._lock = threading.Lock()

    def __call__(self):
        if self._ok:
            return None
        from django.db.migrations.loader import MigrationLoader
        from django.db.migrations.recorder import MigrationRecorder

        connection = connections[DEFAULT_DB_ALIAS]
        with self._lock:
            if self._nodes is None:
                loader = MigrationLoader(None, ignore_no_migrations=True)
                self._nodes = set(loader.graph.nodes)
                self._replacements = {key: set(m.replaces) for key, m in loader.replacements.items()}
        applied = set(MigrationRecorder(connection).applied_migrations())
        missing = {
            node
            for node in self._nodes - applied
            if not (node in self._replacements and self._replacements[node] <= applied)
        }
        if missing:
            return f"{len(missing)} migrations not applied, e.g. {sorted(missing)[0]}"
        self._ok = True
        return None


def register_builtin_checks():
    readiness_check("database")(database_answers)
    readiness_check("migrations")(_MigrationsApplied())
