"""Checks on uploaded files: size, and type by content rather than by name."""

import hashlib
import io
import zipfile

from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

MAX_UPLOAD_BYTES = 20 * 1024 * 1024

ODT_MIMETYPE = b"application/vnd.oasis.opendocument.text"
DOCX_MIMETYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

# extension -> content type, for the types we accept
ALLOWED = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpg": "image/jpeg",
    "docx": DOCX_MIMETYPE,
    "odt": "application/vnd.oasis.opendocument.text",
}


def sniff(head: bytes, fileobj) -> str | None:
    """The file's real type, judged by its bytes: one of ALLOWED's keys, or None."""
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head.startswith(b"PK\x03\x04"):
        try:
            fileobj.seek(0)
            with zipfile.ZipFile(fileobj) as archive:
                names = set(archive.namelist())
                if "mimetype" in names and archive.read("mimetype").strip() == ODT_MIMETYPE:
                    return "odt"
                if "[Content_Types].xml" in names and any(n.startswith("word/") for n in names):
                    return "docx"
        except (zipfile.BadZipFile, OSError, KeyError, RuntimeError):
            return None
    return None


def validate_upload(uploaded) -> dict:
    """Validate an uploaded file; return its facts (kind, content type, size, sha256).

    Raises ValidationError with a message saying what to do."""
    size = uploaded.size
    if size == 0:
        raise ValidationError(_("The file is empty."), code="empty")
    if size > MAX_UPLOAD_BYTES:
        raise ValidationError(
            _("The file is %(size)s; files may be at most %(max)s.")
            % {"size": filesizeformat(size), "max": filesizeformat(MAX_UPLOAD_BYTES)},
            code="too_large",
        )
    uploaded.seek(0)
    head = uploaded.read(16)
    data = io.BytesIO(head + uploaded.read()) if head.startswith(b"PK") else None
    kind = sniff(head, data)
    if kind is None:
        raise ValidationError(
            _(
                "The file's content is not PDF, Word (docx), OpenDocument text (odt), PNG or JPEG. "
                "Save it as one of these and upload it again."
            ),
            code="bad_type",
        )
    name = uploaded.name or ""
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension == "jpeg":
        extension = "jpg"
    if extension != kind:
        raise ValidationError(
            _("The file is named “%(name)s” but its content is %(kind)s. Check that you chose the right file.")
            % {"name": name, "kind": kind.upper()},
            code="name_mismatch",
        )
    uploaded.seek(0)
    digest = hashlib.sha256()
    for chunk in uploaded.chunks():
        digest.update(chunk)
    uploaded.seek(0)
    return {"kind": kind, "content_type": ALLOWED[kind], "size": size, "sha256": digest.hexdigest()}
