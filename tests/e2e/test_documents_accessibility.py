"""The new pages of issue #12 in a real browser, scanned with axe (WCAG 2.1 A
and AA): the agreement's page with its documents, the decision step showing
the frozen document, and the verification page, empty, with a verdict and
with an error; the decision material is downloaded as a PDF from the page."""

import re

import pytest
from django.urls import reverse

from cases.models import AgreementDocument, Stage
from tests.factories import agreement_in_stage

from .helpers import describe
from .test_key_pages_accessibility import error_summary_problems, go, step_url, submit_and_wait

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_document_pages_have_no_axe_violations(context_for, live_server, axe_scan, coordinator, mora_head):
    agreement = agreement_in_stage(Stage.APPROVAL, "Mora", coordinator=coordinator, head=mora_head)
    document = AgreementDocument.objects.get(agreement=agreement)
    page = context_for(coordinator).new_page()
    problems = []

    def scan(name):
        found = axe_scan(page)
        if found:
            problems.append(f"{name}: {describe(found)}")

    go(page, live_server, reverse("workflows:agreement", args=[agreement.pk]))
    assert document.sha256 in page.inner_text("main")
    scan("agreement with its document")
    with page.expect_download() as download:
        page.get_by_role("link", name=document.filename).click()
    assert download.value.suggested_filename == document.filename

    go(page, live_server, step_url(agreement, "region_decision"))
    assert page.get_by_role("heading", name="Dokumentet som beslutet gäller").is_visible()
    assert document.sha256 in page.inner_text("main")
    scan("decision step with its document")

    go(page, live_server, reverse("workflows:verify_document"))
    scan("verify, empty")
    submit_and_wait(page, "Verifiera", status=400)
    problems += [f"verify, errors: {p}" for p in error_summary_problems(page, 1)]
    assert page.title().startswith("Fel:")
    scan("verify, errors")

    with document.file.open("rb") as handle:
        data = handle.read()
    upload = {"name": "beslutsunderlag.pdf", "mimeType": "application/pdf", "buffer": data}
    page.set_input_files("input[type=file]", upload)
    submit_and_wait(page, "Verifiera", status=200)
    assert re.search("Utfärdad av systemet, oförändrad", page.inner_text("main"))
    scan("verify, verdict")

    assert problems == [], "\n".join(problems)


def test_signed_agreement_pages_have_no_serious_axe_violations(
    context_for, live_server, axe_scan, settings, signing_certificate, coordinator, mora_head, falun_head
):
    """#12 item 4: the agreement's page with the signed agreement (and, for
    another agreement, its failed production), and the verification page's
    verdicts on the sealed file and on a copy with one byte changed."""
    from cases.agreements.services import (
        current_decision_material,
        current_signed_agreement,
        document_freeze,
        signature_record,
        signed_agreement_produce,
    )

    def signed(municipality, head):
        agreement = agreement_in_stage(Stage.SIGNING, municipality, coordinator=coordinator, head=head)
        if current_decision_material(agreement) is None:
            document_freeze(actor=coordinator, agreement=agreement)
        signature_record(actor=coordinator, agreement=agreement, party="region")
        signature_record(actor=head, agreement=agreement, party="municipality")
        # As the worker does, in a thread of its own: pyHanko runs its own event loop,
        # which cannot start inside Playwright's (this thread's).
        import threading

        from django.db import connection

        done = {}

        def produce():
            try:
                done["production"] = signed_agreement_produce(agreement_id=agreement.pk)
            finally:
                connection.close()

        worker = threading.Thread(target=produce)
        worker.start()
        worker.join()
        return agreement, done["production"]

    agreement, production = signed("Mora", mora_head)
    assert production.state == "done", production.error
    document = current_signed_agreement(agreement)
    page = context_for(coordinator).new_page()
    problems = []

    def scan(name):
        found = axe_scan(page)
        if found:
            problems.append(f"{name}: {describe(found)}")

    go(page, live_server, reverse("workflows:agreement", args=[agreement.pk]))
    assert page.get_by_role("heading", name="Den undertecknade överenskommelsen").is_visible()
    scan("agreement with its signed agreement")
    with page.expect_download() as download:
        page.locator("#signed-agreement").locator("..").get_by_role("link", name=document.filename).click()
    assert download.value.suggested_filename == document.filename

    with document.file.open("rb") as handle:
        data = handle.read()
    go(page, live_server, reverse("workflows:verify_document"))
    page.set_input_files("input[type=file]", {"name": "avtal.pdf", "mimeType": "application/pdf", "buffer": data})
    submit_and_wait(page, "Verifiera", status=200)
    assert "obruten och giltig" in page.inner_text("main")
    scan("verify, sealed")
    altered = bytearray(data)
    altered[data.index(b"stream", len(data) // 4) + 20] ^= 0x01
    page.set_input_files(
        "input[type=file]", {"name": "andrad.pdf", "mimeType": "application/pdf", "buffer": bytes(altered)}
    )
    submit_and_wait(page, "Verifiera", status=200)
    assert "Ändrad sedan den skrevs under" in page.inner_text("main")
    scan("verify, altered")

    # A production that failed (no certificate): the message stands on the page, as an alert.
    settings.SIGNING_CERT = settings.SIGNING_KEY = ""
    failed, production = signed("Falun", falun_head)
    assert production.state == "failed"
    go(page, live_server, reverse("workflows:agreement", args=[failed.pk]))
    assert "kunde inte framställas" in page.get_by_role("alert").inner_text()
    scan("agreement, signed agreement failed")

    assert problems == [], "\n".join(problems)
