"""python manage.py move_files_to_storage [--from DIR] [--dry-run]

Moves the files that rows still name by their old MEDIA_ROOT path (e.g.
``attachments/2026/05/beslut.pdf``) into the shared storage (FILE_STORAGE),
for every file field of every model: attachments, meeting minutes and
whatever is added later. Each file's bytes are checked against the SHA-256
recorded on its row (when the row has one) before anything moves; a file that
does not match, or is missing, is reported and left where it is. A moved row
is saved with a history row saying why. The files in the old directory are
left in place (nothing is deleted): archive them once the command reports no
problems.

Safe to run again (rows already moved are skipped): run it after the
migrations of the upgrade that introduced the shared storage, and once more
when every app server runs the new version. Exits 1 when a file could not be
moved.
"""

import sys

from django.apps import apps
from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.management.base import BaseCommand
from django.db import models, transaction
from simple_history.models import HistoricalChanges

from accounts.history import audit_context
from storage.backends import digest_of_name, hash_content


def megabytes(size):
    return f"{size / 1_000_000:.1f} MB"


REASON = "File moved to the shared file storage (move_files_to_storage)"


def file_fields():
    """(model, field, hash field name or None) for every file field."""
    found = []
    for model in apps.get_models():
        if not model._meta.managed or model._meta.proxy or issubclass(model, HistoricalChanges):
            continue
        for field in model._meta.concrete_fields:
            if isinstance(field, models.FileField):
                found.append((model, field, _hash_field(model, field)))
    return found


def _hash_field(model, field):
    names = {f.name for f in model._meta.concrete_fields}
    for candidate in (f"{field.name}_sha256", "sha256"):
        if candidate in names:
            return candidate
    return None


class Command(BaseCommand):
    help = "Move files from MEDIA_ROOT into the shared file storage, checking each one's hash."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="source", default=None, help="The old directory (default: MEDIA_ROOT).")
        parser.add_argument("--dry-run", action="store_true", help="Check and report; move nothing.")

    def handle(self, *args, source=None, dry_run=False, **options):
        old = FileSystemStorage(location=source or settings.MEDIA_ROOT)
        moved = already = problems = 0
        moved_bytes = 0
        for model, field, hash_field in file_fields():
            label = f"{model._meta.label}.{field.name}"
            rows = model._default_manager.exclude(**{field.name: ""}).order_by("pk")
            for row in rows.iterator(chunk_size=200):
                name = getattr(row, field.attname).name
                if digest_of_name(name):
                    if default_storage.exists(name):
                        already += 1
                    else:
                        problems += 1
                        self.stderr.write(f"MISSING {label} {row.pk}: {name} is not in the storage")
                    continue
                expected = (getattr(row, hash_field) or "").lower() if hash_field else ""
                try:
                    with old.open(name, "rb") as handle:
                        digest, size = hash_content(handle)
                        if expected and digest != expected:
                            problems += 1
                            self.stderr.write(
                                f"MISMATCH {label} {row.pk}: {name} hashes to {digest}, the row says {expected}; "
                                "left where it is"
                            )
                            continue
                        if dry_run:
                            self.stdout.write(f"would move {label} {row.pk}: {name} ({megabytes(size)})")
                            moved += 1
                            moved_bytes += size
                            continue
                        new_name = self._move(row, field, handle)
                except FileNotFoundError:
                    problems += 1
                    self.stderr.write(f"MISSING {label} {row.pk}: {name} is not in {old.location}")
                    continue
                moved += 1
                moved_bytes += size
                self.stdout.write(f"moved {label} {row.pk}: {name} -> {new_name} ({megabytes(size)})")
        verb = "Would move" if dry_run else "Moved"
        self.stdout.write(
            f"{verb} {moved} files ({megabytes(moved_bytes)}); {already} already in the storage; {problems} problems."
        )
        if problems:
            sys.exit(1)

    def _move(self, row, field, handle):
        with transaction.atomic(), audit_context(reason=REASON):
            # The row as it is now, locked: a second run (or server) moving it at once waits, then skips it.
            row = type(row)._default_manager.select_for_update().get(pk=row.pk)
            fieldfile = getattr(row, field.attname)
            if digest_of_name(fieldfile.name):
                return fieldfile.name
            handle.seek(0)
            new_name = default_storage.save(fieldfile.name, handle)
            fieldfile.name = new_name
            row.save(update_fields=[field.attname])
        return new_name
