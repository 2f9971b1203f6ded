"""Is this PDF one the system issued, and intact? (``manage.py verify_document``
and the verification page, workflows:verify_document.)

The answer is found by the file's SHA-256: every document the system issues
is stored once with its hash (``AgreementDocument.sha256``, also in the audit
history), so a file whose hash is on record is, byte for byte, the one issued;
any other file (changed by one byte, or never issued) is not. Files that are
not a PDF, are cut short or are too large get their own plain answer; nothing
is written either way.

The signed agreement carries, besides, the region's PAdES signature: for it
the verdict also says what pyHanko's validator finds (intact, valid, made with
the configured certificate, covering the whole file). A file whose hash is not
on record but which carries a signature is named "altered" when that
signature no longer holds (the signed bytes changed) or does not cover the
whole file (something added after it)."""

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
    "altered": _(
        "This PDF carries a signature, but it has been changed since it was signed: its SHA-256 matches no "
        "document on record and its signature no longer covers it unchanged."
    ),
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
    signature: object = None  # pades.SignatureCheck for a PDF that carries a signature

    @property
    def signature_text(self):
        return str(signature_line(self.signature)) if self.signature is not None else ""

    @property
    def sealed(self):
        """A signed agreement whose PAdES signature is intact, valid and the region's."""
        return self.signature is not None and self.signature.ok

    @property
    def ok(self):
        return self.kind == "issued"

    @property
    def message(self):
        return MESSAGES[self.kind]


def verify_pdf(fileobj, *, max_bytes: int = MAX_UPLOAD_BYTES) -> Verdict:
    """Read ``fileobj`` (binary, from its current position) in chunks, at most
    ``max_bytes`` + 1 of them, and say what it is."""
    digest, size, head, tail, data = hashlib.sha256(), 0, b"", b"", bytearray()
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
        data += chunk
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
    signature = None
    if document is None or document.kind == AgreementDocument.Kind.SIGNED_AGREEMENT:
        from .pades import validate_pdf

        check = validate_pdf(bytes(data))
        signature = check if check.present else None
    if document is None:
        kind = "altered" if signature is not None and not signature.ok else "unknown"
        return Verdict(kind, sha256=sha256, size=size, signature=signature)
    return Verdict("issued", sha256=sha256, size=size, document=document, signature=signature)


def signature_line(check) -> str:
    """One sentence on a PDF's PAdES signature (pades.SignatureCheck)."""
    if check.ok:
        return _("PAdES signature: intact and valid, made with the region's certificate (%(signer)s).") % {
            "signer": check.signer
        }
    if not check.intact:
        return _("PAdES signature: NOT intact – the signed content has been changed (altered).")
    if not check.valid:
        return _("PAdES signature: NOT valid – the signature does not match the certificate (altered).")
    if not check.whole_file:
        return _("PAdES signature: intact, but content has been added after it (altered).")
    return _("PAdES signature: intact, but not made with the region's configured certificate (%(signer)s).") % {
        "signer": check.signer
    }
