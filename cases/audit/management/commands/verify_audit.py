"""python manage.py verify_audit [--export-head] [--heads FILE]

Exits 0 when every protected table has its triggers and every hash chain is
intact; otherwise exits 1 and names the first broken row of each broken chain
(table, id). ``--export-head`` then prints each chain's latest row as
"table id hash", to be kept outside the database; ``--heads FILE`` checks that
heads exported earlier are still in their chains (which catches rows removed
from the end of a chain, the one change a chain cannot show by itself).
"""

import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.utils import timezone

from cases.audit.verify import parse_heads, verify_audit


class Command(BaseCommand):
    help = (
        "Verify the audit trail: every history table append-only, every hash chain intact. "
        "Exits non-zero naming the first broken row."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--export-head",
            action="store_true",
            help="After verifying, print each chain's latest row as 'table id hash' (keep it outside the database).",
        )
        parser.add_argument("--heads", metavar="FILE", help="Check heads exported earlier with --export-head.")
        parser.add_argument("--database", default="default", help="The database alias (default: default).")

    def handle(self, *args, export_head=False, heads=None, database="default", **options):
        if connections[database].vendor != "postgresql":
            raise CommandError("verify_audit needs PostgreSQL: the audit trail is protected by PostgreSQL triggers.")
        expected_heads = None
        if heads:
            try:
                with open(heads, encoding="utf-8") as handle:
                    expected_heads = parse_heads(handle)
            except (OSError, ValueError) as exc:
                raise CommandError(f"Cannot read the heads in {heads}: {exc}") from exc

        report = verify_audit(using=database, heads=expected_heads)
        out = self.stderr if export_head else self.stdout  # keep stdout for the heads

        for table, issues in report.unprotected:
            self.stderr.write(f"UNPROTECTED {table.table}: {'; '.join(issues)}")
        for chain in report.chains:
            if chain.intact:
                note = f", {chain.older_columns} written before later columns were added" if chain.older_columns else ""
                out.write(f"ok {chain.table.table}: {chain.rows} rows{note}")
            else:
                self.stderr.write(
                    f"BROKEN {chain.table.table}: first broken row {chain.table.id_column}={chain.first_broken_id} "
                    f"({chain.broken} of {chain.rows} rows do not match their hash)"
                )
        for problem in report.head_problems:
            self.stderr.write(f"HEAD {problem}")

        if not report.intact:
            self.stderr.write("The audit trail is NOT intact.")
            sys.exit(1)
        out.write(f"The audit trail is intact: {len(report.chains)} hash chains verified.")
        if export_head:
            self.stdout.write(f"# Samverkan audit heads, {timezone.now().isoformat(timespec='seconds')}: table id hash")
            for chain in report.chains:
                if chain.head_id is not None:
                    self.stdout.write(f"{chain.table.table} {chain.head_id} {chain.head_hash}")
