"""The agreement as a document: a PDF of one revision's text.

``render_revision_pdf`` renders the collaboration areas of one revision (the
text the municipality accepted and the political bodies decide on) with
WeasyPrint as PDF/A-2b, tagged for accessibility, with its fonts embedded.
Every page carries the case number, "sida x av y" and the document's short
fingerprint.

The fingerprint is the SHA-256 of the revision's content in a canonical form
(``content_fingerprint``): a file cannot contain its own hash, so the page
footer names the text, and the file's own SHA-256 is recorded where it is
stored (``AgreementDocument.sha256``, in the audit history)."""

import hashlib
import json

from django.template.loader import render_to_string
from django.utils import translation

PDF_VARIANT = "pdf/a-2b"


def canonical_content(revision) -> dict:
    """What the document says, and nothing else: the parties, the case, the round and its areas."""
    agreement = revision.agreement
    return {
        "case_number": agreement.case_number,
        "municipality": agreement.municipality.name,
        "plan_period": str(agreement.plan_period),
        "round": revision.round,
        "title": revision.title,
        "areas": revision.content,
    }


def content_fingerprint(revision) -> str:
    """SHA-256 (hex) of the revision's canonical content."""
    text = json.dumps(canonical_content(revision), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def short_fingerprint(hexdigest: str) -> str:
    """The first 16 hex digits in groups of four, as printed on every page: "3f2a 9c01 77de 0b45"."""
    head = hexdigest[:16].upper()
    return " ".join(head[i : i + 4] for i in range(0, 16, 4))


def css_string(value) -> str:
    """``value`` as the inside of a double-quoted CSS string (page-margin boxes'
    ``content``), safe to put in the template's <style> unescaped."""
    from django.utils.safestring import mark_safe

    text = " ".join(str(value).split())
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("<", "\\3C ").replace(">", "\\3E ")
    return mark_safe(escaped)  # noqa: S308 – escaped for a CSS string above; no "</style>" can survive


def region_name() -> str:
    from accounts.models import Organisation

    region = Organisation.objects.filter(kind=Organisation.Kind.REGION).order_by("pk").first()
    return region.name if region else "Region Dalarna"


def revision_context(revision, *, fingerprint: str, region: str | None = None) -> dict:
    agreement = revision.agreement
    return {
        "agreement": agreement,
        "revision": revision,
        "areas": revision.content,
        "region": region or region_name(),
        "fingerprint": fingerprint,
        "short_fingerprint": short_fingerprint(fingerprint),
        "footer_left": css_string(agreement.case_number),
    }


def html_to_pdf(html: str) -> bytes:
    """PDF/A-2b, tagged, fonts embedded (WeasyPrint embeds a subset of each font it uses)."""
    from weasyprint import HTML

    return HTML(string=html, base_url=None).write_pdf(pdf_variant=PDF_VARIANT, pdf_tags=True, custom_metadata=True)


def render_revision_pdf(revision, *, region: str | None = None) -> tuple[bytes, str]:
    """The PDF of ``revision`` and the content fingerprint printed on its pages.
    ``region``: the region's name (read from the organisations when not given)."""
    fingerprint = content_fingerprint(revision)
    context = revision_context(revision, fingerprint=fingerprint, region=region)
    with translation.override("sv"):
        html = render_to_string("documents/agreement.html", context)
    return html_to_pdf(html), fingerprint


def _render(template: str, context: dict) -> bytes:
    from django.utils import timezone

    context = {"region": region_name(), "printed_at": timezone.localtime(), **context}
    with translation.override("sv"):
        return html_to_pdf(render_to_string(template, context))


def render_follow_up_pdf(follow_up) -> bytes:
    """A year's follow-up of an agreement (status, each area's progress and narrative)."""
    entries = follow_up.entries.select_related("area").order_by("area__position", "area__pk")
    return _render(
        "documents/follow_up.html",
        {
            "follow_up": follow_up,
            "agreement": follow_up.agreement,
            "entries": entries,
            "footer_left": css_string(follow_up.agreement.case_number),
        },
    )


def render_meeting_pdf(meeting, *, action_points) -> bytes:
    """A dialogue meeting's minutes and the action points the reader may see."""
    participants = [str(m) for m in meeting.participants.order_by("name")]
    return _render(
        "documents/meeting.html",
        {
            "meeting": meeting,
            "participants": participants,
            "action_points": list(action_points),
            "footer_left": css_string(f"Regional kulturdialog {meeting.held_on:%Y-%m-%d}"),
        },
    )


# ---------------------------------------------------------------------------
# The signed agreement: the decided document, its verifikat, merged
# ---------------------------------------------------------------------------


def signature_how(signature) -> str:
    """How the signatory signed, as the verifikat says it."""
    from django.utils.translation import gettext as _

    from .models import SignatureMethod

    return {
        SignatureMethod.PASSWORD: _("electronic signature in Samverkan with renewed sign-in (password)"),
        SignatureMethod.TOTP: _("electronic signature in Samverkan with renewed sign-in (one-time code)"),
        SignatureMethod.PAPER: _("registered paper signature"),
    }.get(signature.auth_method, _("recorded in Samverkan (before signing by the signatory existed)"))


def render_verifikat_pdf(*, agreement, document, signatures, decisions, region: str | None = None) -> bytes:
    """The signature page ("Verifikat"): who signed, when (Swedish local time),
    how, for which organisation and role, the decided document's SHA-256 and the
    case number. PDF/A-2b with its fonts embedded, like the pages it follows;
    untagged, since its pages are appended to another file's structure tree
    (README › Documents and signatures)."""
    from django.utils import timezone
    from weasyprint import HTML

    from accounts.models import Role

    with translation.override("sv"):
        rows = []
        for signature in signatures:
            signed_at = timezone.localtime(signature.signed_at) if signature.signed_at else None
            rows.append(
                {
                    "signature": signature,
                    "organisation": signature.organisation.name if signature.organisation_id else "–",
                    "role": Role(signature.role).label if signature.role in Role.values else signature.signatory_title,
                    "signed_at": signed_at or signature.signed_on,
                    "zone": signed_at.tzname() if signed_at else "",
                    "how": signature_how(signature),
                }
            )
        context = {
            "region": region or region_name(),
            "printed_at": timezone.localtime(),
            "agreement": agreement,
            "document": document,
            "signatures": rows,
            "decisions": decisions,
            "footer_left": css_string(agreement.case_number),
        }
        html = render_to_string("documents/verifikat.html", context)
    return HTML(string=html, base_url=None).write_pdf(pdf_variant=PDF_VARIANT, custom_metadata=True)


def merge_pdfs(first: bytes, *appended: bytes) -> bytes:
    """``first`` with the pages of ``appended`` after its own. The document
    catalogue (XMP metadata with its PDF/A-2b declaration, output intent,
    language, structure tree) stays ``first``'s; the appended pages bring their
    fonts with them."""
    import io

    import pikepdf

    with pikepdf.open(io.BytesIO(first)) as target:
        for data in appended:
            with pikepdf.open(io.BytesIO(data)) as source:
                for page in source.pages:
                    target.pages.append(page)
                    copied = target.pages[-1]
                    if "/StructParents" in copied.obj:
                        del copied.obj["/StructParents"]
        out = io.BytesIO()
        target.save(out, deterministic_id=True)
    return out.getvalue()
