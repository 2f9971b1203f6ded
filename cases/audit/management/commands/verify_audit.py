"""python manage.py verify_audit [--export-head] [--heads FILE] [--checkpoints FILE] [--no-live]

Exits 0 when the audit trail is intact; otherwise exits 1 and names what is
wrong, one line each on stderr:

``UNPROTECTED table: …``   a protected table lacks a trigger or its hash column;
``BROKEN table: first broken row id=N``   a row does not match its hash;
``LIVE table: row id=N …``   a live row differs from its latest history row,
    has no history, is gone without a recorded deletion, or its links differ;
``CHECKPOINT …``   a checkpoint's signature does not verify, the sequence of
    checkpoints is broken, or a signed head is no longer in its chain;
``HEAD table: …``   a head exported earlier (``--heads FILE``) is gone.

On stdout: ``ok`` per chain, the live comparison, the last verified
checkpoint and, per chain, the rows written since it ("not yet
checkpointed"). ``--export-head`` then prints each chain's latest row as
"table id hash" (stdout only holds the heads then; the report goes to
stderr). ``--checkpoints FILE`` also checks checkpoints exported earlier
(``audit_checkpoint --export`` / ``--append``), which catches the removal of
the latest checkpoints. ``--no-live`` skips the live comparison (the chains
alone are quicker).
"""

import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.utils import timezone

from cases.audit.checkpoints import parse_export
from cases.audit.tables import protected_tables
from cases.audit.verify import parse_heads, verify_audit


def _read(path, parse, what):
    try:
        with open(path, encoding="utf-8") as handle:
            return parse(handle)
    except (OSError, ValueError) as exc:
        raise CommandError(f"Cannot read the {what} in {path}: {exc}") from exc


class Command(BaseCommand):
    help = (
        "Verify the audit trail: every history table append-only, every hash chain intact, every live row equal to "
        "its latest history row, every signed checkpoint valid and still in its chains. Exits non-zero naming the "
        "table and row."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--export-head",
            action="store_true",
            help="After verifying, print each chain's latest row as 'table id hash' (keep it outside the database).",
        )
        parser.add_argument("--heads", metavar="FILE", help="Check heads exported earlier with --export-head.")
        parser.add_argument(
            "--checkpoints", metavar="FILE", help="Also check checkpoints exported earlier (audit_checkpoint --export)."
        )
        parser.add_argument("--no-live", action="store_true", help="Skip comparing live rows with their history.")
        parser.add_argument("--database", default="default", help="The database alias (default: default).")

    def handle(self, *args, export_head=False, heads=None, checkpoints=None, no_live=False, database="default", **kw):
        if connections[database].vendor != "postgresql":
            raise CommandError("verify_audit needs PostgreSQL: the audit trail is protected by PostgreSQL triggers.")
        expected_heads = _read(heads, parse_heads, "heads") if heads else None
        exported = _read(checkpoints, parse_export, "checkpoints") if checkpoints else None

        report = verify_audit(
            using=database, heads=expected_heads, live_rows=not no_live, exported_checkpoints=exported
        )
        out = self.stderr if export_head else self.stdout  # keep stdout for the heads

        for table, issues in report.unprotected:
            self.stderr.write(f"UNPROTECTED {table.table}: {'; '.join(issues)}")
        for table in protected_tables():
            if table.unchained_because:
                out.write(f"append-only {table.table}: not chained, {table.unchained_because}")
        for chain in report.chains:
            if chain.intact:
                note = f", {chain.older_columns} written before later columns were added" if chain.older_columns else ""
                out.write(f"ok {chain.table.table}: {chain.rows} rows{note}")
            else:
                self.stderr.write(
                    f"BROKEN {chain.table.table}: first broken row {chain.table.id_column}={chain.first_broken_id} "
                    f"({chain.broken} of {chain.rows} rows do not match their hash)"
                )
        for problem in report.live_problems:
            self.stderr.write(f"LIVE {problem.describe()}")
        if report.live_checked and not report.live_problems:
            out.write("ok live rows: every live row equals its latest history row")
        for problem in report.head_problems:
            self.stderr.write(f"HEAD {problem}")
        self._checkpoints(report.checkpoints, out)

        if not report.intact:
            self.stderr.write("The audit trail is NOT intact.")
            sys.exit(1)
        out.write(f"The audit trail is intact: {len(report.chains)} hash chains verified.")
        if export_head:
            self.stdout.write(f"# Samverkan audit heads, {timezone.now().isoformat(timespec='seconds')}: table id hash")
            for chain in report.chains:
                if chain.head_id is not None:
                    self.stdout.write(f"{chain.table.table} {chain.head_id} {chain.head_hash}")

    def _checkpoints(self, report, out):
        for problem in report.problems:
            self.stderr.write(f"CHECKPOINT {problem}")
        if report.checkpoints and not report.problems:
            at = timezone.localtime(report.last_at).isoformat(timespec="seconds")
            out.write(f"ok checkpoints: {report.checkpoints} signed, the last #{report.last_id} of {at}")
        for note in report.notes:
            out.write(note)
        for table, rows in sorted(report.pending.items()):
            out.write(f"not yet checkpointed {table}: {rows} rows")
