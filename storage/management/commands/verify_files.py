"""python manage.py verify_files

Reads every stored file and checks that its bytes hash to its name
(``sha256/<hex>``) and to the SHA-256 recorded on the rows that refer to it;
checks that every file a row refers to is in the storage. Prints one line per
problem and a summary; exits 1 when there is a problem. Run it after a
restore (README › Operations › Backups) and now and then as a scrub: a
download checks the same for one file, this checks them all.
"""

import sys

from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand

from storage.backends import DatabaseStorage, digest_of_name, hash_content
from storage.models import StoredFile

from .move_files_to_storage import file_fields, megabytes


class Command(BaseCommand):
    help = "Check every stored file against its hash, and that every file a row refers to is stored."

    def handle(self, *args, **options):
        problems = 0
        names = {}  # name -> [(label, pk, recorded hash)]
        for model, field, hash_field in file_fields():
            label = f"{model._meta.label}.{field.name}"
            columns = [field.attname, "pk"] + ([hash_field] if hash_field else [])
            for values in model._default_manager.exclude(**{field.name: ""}).values_list(*columns):
                recorded = values[2].lower() if hash_field and values[2] else ""
                names.setdefault(values[0], []).append((label, values[1], recorded))
        if isinstance(default_storage, DatabaseStorage):
            for digest in StoredFile.objects.order_by("pk").values_list("sha256", flat=True).iterator():
                names.setdefault(f"sha256/{digest}", [])
        total_bytes = 0
        for name in sorted(names):
            addressed = digest_of_name(name)
            if addressed is None:
                problems += 1
                self.stderr.write(f"NOT MOVED {name}: still a MEDIA_ROOT path; run move_files_to_storage")
                continue
            try:
                with default_storage.open(name, "rb") as handle:
                    digest, size = hash_content(handle)
            except FileNotFoundError:
                problems += 1
                self.stderr.write(f"MISSING {name} (referred to by {self._refs(names[name])})")
                continue
            total_bytes += size
            if digest != addressed:
                problems += 1
                self.stderr.write(f"DAMAGED {name}: its bytes hash to {digest}")
            for label, pk, recorded in names[name]:
                if recorded and recorded != addressed:
                    problems += 1
                    self.stderr.write(f"MISMATCH {label} {pk}: the row records {recorded}, it refers to {name}")
        self.stdout.write(f"{len(names)} stored files checked ({megabytes(total_bytes)}); {problems} problems.")
        if problems:
            sys.exit(1)

    @staticmethod
    def _refs(refs):
        return ", ".join(f"{label} {pk}" for label, pk, _recorded in refs) or "no row"
