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
