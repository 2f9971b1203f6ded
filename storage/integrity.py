"""Every download re-checks the bytes against the hash recorded at upload.

``open_verified`` reads the stored file once, in chunks, hashing as it goes,
into a spooled temporary file (memory up to ``SPOOL_BYTES``, then disk), and
hands that copy out only when its SHA-256 is the expected one: what was
checked is exactly what is sent, and nothing is sent before it was checked.
A file whose bytes no longer match, or that is gone, is refused: the event is
written to the audit log (``FileIntegrityEvent``) and ``FileRefused`` raised
for the view to answer with a clear page.
"""

import hashlib
import logging
import tempfile

from django.db import transaction

from .backends import digest_of_name
from .models import FileIntegrityEvent

logger = logging.getLogger(__name__)

SPOOL_BYTES = 2 * 1024 * 1024
READ_SIZE = 1024 * 1024


class FileRefused(Exception):
    """A stored file that cannot be handed out; ``kind`` is a FileIntegrityEvent.Kind."""

    def __init__(self, kind, event):
        super().__init__(kind)
        self.kind = kind
        self.event = event


def _expected_digest(fieldfile, expected_sha256):
    """The hash the bytes must have: the one recorded at upload. A content
    address that names another hash is a mismatch in itself."""
    recorded = (expected_sha256 or "").strip().lower()
    addressed = digest_of_name(fieldfile.name)
    return recorded or addressed or "", addressed


def open_verified(fieldfile, *, expected_sha256, about, actor=None, ip=None):
    """An open, rewound copy of the file's bytes whose SHA-256 is
    ``expected_sha256`` (the caller closes it). ``about`` is the record the
    file belongs to (named in the audit event). Raises FileRefused."""
    expected, addressed = _expected_digest(fieldfile, expected_sha256)
    digest = hashlib.sha256()
    copy = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (returned open)
    try:
        with fieldfile.storage.open(fieldfile.name, "rb") as stored:
            while block := stored.read(READ_SIZE):
                digest.update(block)
                copy.write(block)
    except (FileNotFoundError, OSError) as exc:
        copy.close()
        logger.error("Stored file %s of %s is missing: %s", fieldfile.name, _label(about), exc)
        raise FileRefused(
            FileIntegrityEvent.Kind.MISSING,
            _record(FileIntegrityEvent.Kind.MISSING, fieldfile, expected, "", about, actor, ip),
        ) from exc
    found = digest.hexdigest()
    if not expected or found != expected or (addressed and addressed != expected):
        copy.close()
        logger.error(
            "Stored file %s of %s does not match its hash: expected %s, found %s",
            fieldfile.name,
            _label(about),
            expected,
            found,
        )
        raise FileRefused(
            FileIntegrityEvent.Kind.MISMATCH,
            _record(FileIntegrityEvent.Kind.MISMATCH, fieldfile, expected, found, about, actor, ip),
        )
    copy.seek(0)
    return copy


def _label(about):
    return f"{about._meta.label_lower} {about.pk}"


def _record(kind, fieldfile, expected, found, about, actor, ip):
    """The audit record of a refusal, committed whatever the request does next."""
    with transaction.atomic():
        return FileIntegrityEvent.objects.create(
            kind=kind,
            name=(fieldfile.name or "")[:255],
            expected_sha256=expected[:64],
            found_sha256=found,
            object_label=about._meta.label_lower,
            object_id=str(about.pk),
            user=actor if getattr(actor, "is_authenticated", False) else None,
            ip=ip,
        )
