"""The agreement as a document (issue #12, items 1 and 2), over HTTP as the
users who take the steps: the decision material is frozen as the agreement
enters political approval, is PDF/A-2b with every font embedded and the case
number, "Sida x av y" and the fingerprint on every page; each decision names
the document it decided on; a return to drafting makes a new document and the
old one stays downloadable; a stale page is refused; another municipality's
user cannot download it."""

import hashlib
import io
import re
import subprocess
import tempfile

import pikepdf
import pytest
from django.urls import reverse
from django.utils import timezone

from accounts import audit_reasons as reasons
from cases.agreements.documents import short_fingerprint
from cases.models import AgreementDocument, Decision, Stage
from tests.factories import agreement_in_stage
from tests.workflows.helpers import draft_post, login, open_task, step_url

pytestmark = pytest.mark.django_db


def pdf_pages_text(data: bytes, *, mode: str = "-layout") -> list[str]:
    """The text of each page, by poppler's pdftotext (form feed between pages);
    ``mode="-raw"`` keeps the content's order (a table cell's lines together)."""
    text = subprocess.run(["pdftotext", mode, "-", "-"], input=data, capture_output=True, check=True).stdout.decode(
        "utf-8"
    )
    return [page for page in text.split("\f") if page.strip()]


def embedded_fonts(data: bytes) -> list[tuple[str, str]]:
    """(font name, "yes"/"no" embedded) for each font, by poppler's pdffonts."""
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(data)
        handle.flush()
        lines = subprocess.run(
            ["pdffonts", handle.name], capture_output=True, check=True, text=True
        ).stdout.splitlines()
    column = lines[0].index("emb")
    return [(line.split()[0], line[column : column + 3].strip()) for line in lines[2:]]


def download(client, document):
    response = client.get(reverse("workflows:document", args=[document.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    return b"".join(response.streaming_content)


def accept_review(client, head, agreement):
    login(client, head)
    response = client.post(step_url(open_task(agreement, "review")), {"verdict": "accept"})
    assert response.status_code == 302
    client.logout()


def test_decision_material_frozen_decided_on_renewed_and_scoped(client, coordinator, mora_head, falun_head):
    agreement = agreement_in_stage(Stage.REVIEW, "Mora", coordinator=coordinator, head=mora_head)
    assert not AgreementDocument.objects.exists()

    # The cultural head accepts the draft: the agreement enters approval with its document.
    accept_review(client, mora_head, agreement)
    agreement.refresh_from_db()
    assert agreement.stage == Stage.APPROVAL
    first = AgreementDocument.objects.get(agreement=agreement)
    assert first.revision.round == 1 and first.kind == AgreementDocument.Kind.DECISION_MATERIAL

    # Its SHA-256 is in the audit history, in the row's fields and its reason.
    row = first.history.get()
    assert row.sha256 == first.sha256
    assert row.history_user == mora_head
    assert row.history_change_reason == reasons.decision_material_frozen(round=1, sha256=first.sha256)

    # Downloaded, the bytes are the ones hashed.
    login(client, coordinator)
    data = download(client, first)
    assert hashlib.sha256(data).hexdigest() == first.sha256 and len(data) == first.size

    # PDF/A-2b, declared in the XMP metadata; tagged; every font embedded.
    with pikepdf.open(io.BytesIO(data)) as pdf:
        meta = pdf.open_metadata()
        assert meta["pdfaid:part"] == "2" and meta["pdfaid:conformance"] == "B"
        assert pdf.Root.MarkInfo.Marked is True
        assert str(pdf.Root.Lang) == "sv"
    fonts = embedded_fonts(data)
    assert fonts and all(embedded == "yes" for _name, embedded in fonts), fonts

    # Swedish, and every page carries the case number, "Sida x av y" and the fingerprint.
    pages = pdf_pages_text(data)
    assert "Överenskommelse mellan" in pages[0] and "Samverkansområden" in pages[0]
    for number, page in enumerate(pages, start=1):
        assert agreement.case_number in page
        assert re.search(rf"Sida {number} av {len(pages)}\b", page), page
        assert short_fingerprint(first.fingerprint) in page
    for area in agreement.active_areas():
        assert area.title in "".join(pages)

    # The decision step shows the document and its hash; the decision names it.
    region_step = step_url(open_task(agreement, "region_decision"))
    page = client.get(region_step).content.decode()
    assert first.sha256 in page and reverse("workflows:document", args=[first.pk]) in page
    today = timezone.localdate().isoformat()
    returned = {
        "body": "Kultur- och bildningsnämnden",
        "meeting_date": today,
        "paragraph": "§ 45",
        "outcome": "returned",
        "document_sha256": first.sha256,
    }
    assert client.post(region_step, returned).status_code == 302
    decision = Decision.objects.get(agreement=agreement, round=1)
    assert decision.document == first
    assert decision.history.get().document_id == first.pk

    # A return to drafting: the next round gets a new document; the old one stays.
    agreement.refresh_from_db()
    assert agreement.stage == Stage.DRAFTING and agreement.review_round == 2
    area = agreement.active_areas().first()
    changed = {
        "id": area.pk,
        "title": area.title,
        "goal": "Ett nytt mål för andra omgången.",
        "region_commitment": area.region_commitment,
        "municipality_commitment": area.municipality_commitment,
    }
    response = client.post(step_url(open_task(agreement, "draft")), draft_post(agreement.title, [changed], submit=True))
    assert response.status_code == 302
    client.logout()
    accept_review(client, mora_head, agreement)
    second = AgreementDocument.objects.get(agreement=agreement, revision__round=2)
    assert second.sha256 != first.sha256 and second.fingerprint != first.fingerprint
    login(client, coordinator)
    assert "Ett nytt mål för andra omgången." in "".join(pdf_pages_text(download(client, second)))

    # A page still showing round 1's document is refused, nothing written.
    region_step = step_url(open_task(agreement, "region_decision"))
    stale = {**returned, "outcome": "approved", "document_sha256": first.sha256}
    response = client.post(region_step, stale)
    assert response.status_code == 400
    assert "inte överenskommelsens aktuella" in response.content.decode()
    assert not Decision.objects.filter(agreement=agreement, round=2).exists()

    # With the current one it is recorded, naming round 2's document.
    assert client.post(region_step, {**stale, "document_sha256": second.sha256}).status_code == 302
    assert Decision.objects.get(agreement=agreement, round=2).document == second

    # The agreement's page lists both documents and each decision's hash; the old one downloads.
    page = client.get(reverse("workflows:agreement", args=[agreement.pk])).content.decode()
    assert first.sha256 in page and second.sha256 in page
    assert hashlib.sha256(download(client, first)).hexdigest() == first.sha256
    client.logout()

    # Another municipality's cultural head cannot download them.
    login(client, falun_head)
    assert client.get(reverse("workflows:document", args=[first.pk])).status_code == 404


def test_a_decision_without_the_page_hash_still_names_the_frozen_document(client, coordinator, mora_head):
    """A form posted without the hidden field (an older page) decides on the current document."""
    agreement = agreement_in_stage(Stage.APPROVAL, "Mora", coordinator=coordinator, head=mora_head)
    document = AgreementDocument.objects.get(agreement=agreement)
    login(client, coordinator)
    form = {
        "body": "Kultur- och bildningsnämnden",
        "meeting_date": timezone.localdate().isoformat(),
        "paragraph": "§ 3",
        "outcome": "approved",
    }
    assert client.post(step_url(open_task(agreement, "region_decision")), form).status_code == 302
    assert Decision.objects.get(agreement=agreement).document == document
    assert AgreementDocument.objects.filter(agreement=agreement).count() == 1  # frozen once


def test_an_agreement_in_approval_without_a_document_gets_it_at_its_first_decision(coordinator):
    """Agreements that entered approval before documents existed: the first
    decision freezes the current round's document and names it."""
    from accounts.history import audit_context
    from cases.agreements import services
    from tests.factories import AgreementFactory

    agreement = AgreementFactory(in_review=True)
    with audit_context(actor=coordinator, reason="test: entered approval before #12"):
        agreement.stage = Stage.APPROVAL
        agreement.save()
    assert not agreement.documents.exists()
    decision = services.decision_record(
        actor=coordinator,
        agreement=agreement,
        party="region",
        body="Kultur- och bildningsnämnden",
        meeting_date=timezone.localdate(),
        paragraph="§ 9",
        outcome="approved",
    )
    document = agreement.documents.get()
    assert decision.document == document and document.revision.round == 1
