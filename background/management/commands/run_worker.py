"""The background worker: django-tasks-db's worker (the tasks: e-mail,
scheduled jobs, later webhooks and documents) with the scheduler beside it
in a thread. Run one or more anywhere; `make run` starts one beside the
development server. See README › Background work."""

import contextlib
import logging
import signal
import threading
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections, connection, connections

from background import schedule

logger = logging.getLogger("background")

# How long the worker waits before it tries the database again after losing it.
DATABASE_RETRY_SECONDS = 2


def run_scheduler(stop: threading.Event, tick_seconds: float, worker: str, counts: dict):
    while not stop.is_set():
        close_old_connections()
        try:
            counts["queued"] += len(schedule.tick(worker=worker))
            counts["ticks"] += 1
        except Exception:  # a database that is away for a moment must not end the thread
            logger.exception("The scheduler's tick failed; trying again in %s s", tick_seconds)
        stop.wait(tick_seconds)
    connection.close()


def shutdown_requested():
    """Whether django-tasks-db's worker was told to stop (SIGTERM, SIGINT): its signal
    handler, a method of the worker, has cleared the worker's ``running``."""
    worker = getattr(signal.getsignal(signal.SIGTERM), "__self__", None)
    return worker is not None and getattr(worker, "running", True) is False


class Command(BaseCommand):
    help = "Run the background worker: queued tasks (e-mail, …) and the scheduled jobs."

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-scheduler", action="store_true", help="Only run tasks; another worker schedules the jobs."
        )
        parser.add_argument(
            "--scheduler-only", action="store_true", help="Only queue the scheduled jobs (for tests and diagnosis)."
        )
        parser.add_argument(
            "--tick",
            type=float,
            default=settings.BACKGROUND_TICK_SECONDS,
            help="Seconds between the scheduler's looks at the schedule (default %(default)s).",
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=1.0,
            help="Seconds between looks for new tasks when there are none (default %(default)s).",
        )
        parser.add_argument(
            "--run-for", type=float, default=None, help="Stop after this many seconds (tests, benchmarks)."
        )

    def handle(self, *args, no_scheduler, scheduler_only, tick, interval, run_for, **options):
        logging.getLogger("background").setLevel(logging.INFO)
        worker = schedule.worker_id()
        stop = threading.Event()
        scheduler = None
        counts = {"ticks": 0, "queued": 0}
        if not no_scheduler:
            scheduler = threading.Thread(
                target=run_scheduler, args=(stop, tick, worker, counts), name="samverkan-scheduler", daemon=True
            )
            scheduler.start()
        if run_for is not None:
            threading.Timer(run_for, stop.set).start()
        try:
            if scheduler_only:
                stop.wait()
            elif run_for is not None:
                deadline = time.monotonic() + run_for
                while not stop.is_set() and time.monotonic() < deadline:
                    call_command(
                        "db_worker",
                        queue_name="*",
                        interval=interval,
                        batch=True,
                        reload=False,
                        worker_id=worker,
                        startup_delay=False,
                        verbosity=options["verbosity"],
                    )
                    stop.wait(interval)
            else:
                while not stop.is_set():
                    try:
                        call_command(
                            "db_worker",
                            queue_name="*",
                            interval=interval,
                            reload=False,
                            worker_id=worker,
                            verbosity=options["verbosity"],
                        )
                        break  # it returned: told to stop
                    except DatabaseError as exc:
                        if shutdown_requested():
                            break  # SIGTERM came first: stop, as asked
                        # The database restarts or is out of reach: wait and carry on. No e-mail is
                        # lost: they are in the outbox, which the scheduled deliver_emails sweeps.
                        logger.warning(
                            "A database error (%s); the worker tries again in %s s",
                            str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                            DATABASE_RETRY_SECONDS,
                        )
                        with contextlib.suppress(DatabaseError):
                            connections.close_all()
                        stop.wait(DATABASE_RETRY_SECONDS)
        finally:
            stop.set()
            if scheduler is not None:
                scheduler.join(timeout=tick + 5)
                self.stdout.write(f"Scheduler {worker}: {counts['ticks']} ticks, {counts['queued']} jobs queued")
