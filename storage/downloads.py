"""The one way a view hands out a stored file: checked against its hash first."""

from django.http import FileResponse
from django.shortcuts import render

from accounts.middleware import client_ip

from .integrity import FileRefused, open_verified

REFUSED_STATUS = {"mismatch": 409, "missing": 404}


def verified_file_response(request, fieldfile, *, sha256, filename, content_type, about):
    """A download of ``fieldfile`` whose bytes hash to ``sha256``, or, when they
    do not (or the file is gone), a page saying so, with the event in the audit
    log. ``about`` is the record the file belongs to (an attachment, a meeting)."""
    try:
        handle = open_verified(
            fieldfile, expected_sha256=sha256, about=about, actor=request.user, ip=client_ip(request)
        )
    except FileRefused as refused:
        return render(
            request,
            "storage/file_refused.html",
            {"kind": refused.kind, "filename": filename, "event": refused.event},
            status=REFUSED_STATUS[refused.kind],
        )
    return FileResponse(handle, as_attachment=True, filename=filename, content_type=content_type)
