"""Is this PDF one the system issued, and intact? (``manage.py verify_document``
and the verification page, workflows:verify_document.)

The answer is found by the file's SHA-256: every document the system issues
is stored once with its hash (``AgreementDocument.sha256``, also in the audit
history), so a file whose hash is on record is, byte for byte, the one issued;
any other file (changed by one byte, or never issued) is not. Files that are
not a PDF, are cut short or are too large get their own plain answer; nothing
is written either way."""

import hashlib
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from ..files import MAX_UPLOAD_BYTES
from .models import AgreementDocument

READ_CHUNK = 1024 * 1024
# A complete PDF ends with "%%EOF" (and at most a line ending or some padding after it).
TAIL_BYTES = 1024

MESSAGES = {
    "issued": _("This PDF was issued by the system and is unchanged since."),
    "unknown": _(
        "This PDF is not one the system issued, or it has been changed since: "
        "its SHA-256 matches no document on record."
    ),
    "empty": _("The file is empty."),
    "not_pdf": _("The file is not a PDF."),
    "truncated": _("The PDF is incomplete (cut short): it does not end as a PDF file does."),
    "too_large": _("The file is larger than %(max)s MB; no document the system issues is that large.")
    % {"max": MAX_UPLOAD_BYTES // (1024 * 1024)},
}


@dataclass(frozen=True)
class Verdict:
    kind: str  # one of MESSAGES' keys
    sha256: str = ""
    size: int = 0
    document: AgreementDocument | None = None

    @property
    def ok(self):
        return self.kind == "issued"

    @property
    def message(self):
        return MESSAGES[self.kind]


def verify_pdf(fileobj, *, max_bytes: int = MAX_UPLOAD_BYTES) -> Verdict:
    """Read ``fileobj`` (binary, from its current position) in chunks, at most
    ``max_bytes`` + 1 of them, and say what it is."""
    digest, size, head, tail = hashlib.sha256(), 0, b"", b""
    while True:
        chunk = fileobj.read(READ_CHUNK)
        if not chunk:
            break
        size += len(chunk)
        if size > max_bytes:
            return Verdict("too_large", size=size)
        if len(head) < 8:
            head = (head + chunk)[:8]
        tail = (tail + chunk)[-TAIL_BYTES:]
        digest.update(chunk)
    if size == 0:
        return Verdict("empty")
    if not head.startswith(b"%PDF-"):
        return Verdict("not_pdf", size=size)
    if b"%%EOF" not in tail:
        return Verdict("truncated", size=size)
    sha256 = digest.hexdigest()
    document = (
        AgreementDocument.objects.select_related("agreement__municipality", "revision").filter(sha256=sha256).first()
    )
    return Verdict("issued" if document else "unknown", sha256=sha256, size=size, document=document)
