"""Build a database of benchmark volume: Sweden's 21 regions and 290
municipalities, many plan periods, 100,000 agreements in every stage with
their processes, tasks, due dates and history (more than a million history
rows, hash-chained by the database as always), made by running scenarios
through the real services and cloning what they wrote. See bench/loadtest/.

    python manage.py generate_load_data                 # 100,000 agreements into samverkan_load
    python manage.py generate_load_data --agreements 2000 --reset
    DATABASE_URL=postgres://…/other_load python manage.py generate_load_data

The database is the one DATABASE_URL names, by default a dedicated
``samverkan_load`` on the local cluster; it is created and migrated when it
does not exist. A test database (``test_…``) is refused, and so is a database
that already holds agreements, unless ``--reset`` (only for a database whose
name contains "load" or "bench") drops and recreates it first.
"""

import os
import sys
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/samverkan_load"


def _maintenance_connection():
    import psycopg

    params = connection.get_connection_params()
    params["dbname"] = "postgres"
    return psycopg.connect(**params, autocommit=True)


class Command(BaseCommand):
    help = "Generate benchmark data (regions, municipalities, agreements, processes, history) in a dedicated database."
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--agreements", type=int, default=100_000, help="How many agreements (default 100,000).")
        parser.add_argument(
            "--municipalities", type=int, default=290, help="How many municipalities, spread over the 21 regions."
        )
        parser.add_argument(
            "--seed", type=int, default=1, help="Seed of the random choices (the same seed, the same data)."
        )
        parser.add_argument("--reset", action="store_true", help="Drop and recreate the database first.")
        parser.add_argument("--verify", action="store_true", help="Run verify_audit afterwards.")
        parser.add_argument(
            "--serial", action="store_true", help="Load everything in one transaction of this connection."
        )

    def handle(self, *args, **options):
        if "DATABASE_URL" not in os.environ:
            if sys.argv[1:2] != ["generate_load_data"]:
                raise CommandError("Set DATABASE_URL to the database to fill.")
            # Start again with the dedicated database, before Django has connected anywhere.
            os.environ["DATABASE_URL"] = DEFAULT_URL
            sys.stdout.flush()
            os.execv(sys.executable, [sys.executable, *sys.argv])  # noqa: S606 (the same command, another database)
        if connection.vendor != "postgresql":
            raise CommandError("The load data needs PostgreSQL: DATABASE_URL must be a postgres:// URL.")
        name = connection.settings_dict["NAME"]
        if name.startswith("test"):
            raise CommandError(f"{name} looks like a test database; the load data goes into a database of its own.")
        if options["agreements"] < 1 or not 1 <= options["municipalities"] <= 290:
            raise CommandError("--agreements must be at least 1 and --municipalities between 1 and 290.")

        started = time.perf_counter()
        self._prepare_database(name, reset=options["reset"])
        from bench.loadtest.generate import generate
        from cases.models import Agreement

        if Agreement.objects.exists():
            raise CommandError(
                f"{name} already holds {Agreement.objects.count():,} agreements. Use --reset to start from an empty "
                f"database (only for databases named …load… or …bench…)."
            )
        self.stdout.write(
            f"Generating {options['agreements']:,} agreements for {options['municipalities']} municipalities "
            f"in {name} …"
        )
        result = generate(
            agreements=options["agreements"],
            municipalities=options["municipalities"],
            seed=options["seed"],
            parallel=not options["serial"],
            log=self.stdout.write,
        )
        analysed = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE)")
        self.stdout.write(f"  VACUUM ANALYZE in {time.perf_counter() - analysed:.1f} s")
        total = time.perf_counter() - started

        self.stdout.write("")
        self.stdout.write(f"{'table':48} {'rows':>12}")
        for table, rows in sorted(result.counts.items()):
            self.stdout.write(f"{table:48} {rows:>12,}")
        self.stdout.write(f"{'history rows (all history tables)':48} {result.history_rows:>12,}")
        self.stdout.write("")
        self.stdout.write("Scenarios: " + ", ".join(f"{k} {v:,}" for k, v in sorted(result.kinds.items())))
        self.stdout.write(
            self.style.SUCCESS(
                f"Done in {total:.0f} s ({total / 60:.1f} min): {result.agreements:,} agreements, "
                f"{result.history_rows:,} history rows."
            )
        )
        if options["verify"]:
            verified = time.perf_counter()
            call_command("verify_audit", stdout=self.stdout, stderr=self.stderr)
            self.stdout.write(f"verify_audit took {time.perf_counter() - verified:.0f} s")

    def _prepare_database(self, name, *, reset):
        """Create (or, with --reset, recreate) the database and migrate it."""
        with _maintenance_connection() as maintenance:
            exists = maintenance.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if reset and exists:
                if "load" not in name and "bench" not in name:
                    raise CommandError(f"--reset drops the database; {name} is not named like a load database.")
                connection.close()
                self.stdout.write(f"Dropping {name} …")
                maintenance.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
                exists = False
            if not exists:
                self.stdout.write(f"Creating {name} …")
                maintenance.execute(f'CREATE DATABASE "{name}"')
        migrated = time.perf_counter()
        call_command("migrate", verbosity=0, interactive=False)
        self.stdout.write(f"  migrated in {time.perf_counter() - migrated:.1f} s")
