"""python manage.py audit_checkpoint [--append FILE] | --export | --generate-key FILE

Signs the heads of every hash chain with the configured Ed25519 key and
stores the checkpoint (cases/audit/checkpoints.py). Run it from cron, e.g.
every hour, as a user that can read the key file:

    0 * * * * cd /srv/samverkan && .venv/bin/python manage.py audit_checkpoint \
        --append /var/lib/samverkan/checkpoints.jsonl

``--append FILE`` also appends the checkpoint as a JSON line to FILE (keep it
outside the database; ``verify_audit --checkpoints FILE`` checks it).
``--export`` prints every stored checkpoint as JSON lines instead of signing.
``--generate-key FILE`` writes a new private key (PEM, mode 600) and prints
its public key for AUDIT_VERIFY_KEYS.
"""

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from cases.audit import checkpoints
from cases.audit.models import AuditCheckpoint


class Command(BaseCommand):
    help = "Sign the heads of every audit hash chain (a checkpoint), export the checkpoints, or generate a key."

    def add_arguments(self, parser):
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--export", action="store_true", help="Print every stored checkpoint as JSON lines.")
        action.add_argument("--generate-key", metavar="FILE", help="Write a new private key to FILE (PEM).")
        parser.add_argument("--append", metavar="FILE", help="Also append the new checkpoint to FILE as a JSON line.")
        parser.add_argument("--database", default="default", help="The database alias (default: default).")

    def handle(self, *args, export=False, generate_key=None, append=None, database="default", **options):
        if generate_key:
            try:
                key = checkpoints.generate_key(generate_key)
            except OSError as error:
                raise CommandError(f"Cannot write {generate_key}: {error}") from error
            public = key.public_key()
            self.stderr.write(f"Private key written to {generate_key} (key {checkpoints.key_id(public)}).")
            self.stdout.write(checkpoints.public_key_text(public))
            return
        if export:
            for checkpoint in AuditCheckpoint.objects.using(database).order_by("id"):
                self.stdout.write(checkpoints.export_line(checkpoint))
            return
        if connections[database].vendor != "postgresql":
            self.stderr.write("No checkpoint: the audit chains exist on PostgreSQL only.")
            return
        try:
            checkpoint = checkpoints.sign_checkpoint(using=database)
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from error
        line = checkpoints.export_line(checkpoint)
        if append:
            try:
                with open(append, "a", encoding="utf-8") as handle:
                    handle.write(line + "\n")
            except OSError as error:
                raise CommandError(
                    f"Checkpoint #{checkpoint.pk} is stored, but {append} could not be written: {error}"
                ) from error
        self.stdout.write(line)
