"""The signed agreement (issue #12, item 4), over HTTP as the users who take
the steps: the cultural head accepts the draft, the coordinator and the
municipal official record the decisions on the frozen document, the
coordinator and the cultural head sign with their passwords; the last
signature queues the worker's job, which merges the decided document with its
verifikat page and seals it with the region's certificate (PAdES). Then:
pyHanko's validator and poppler's pdfsig both say the signature is valid over
the whole file, and both say it is not once one signed byte changes; the
file still declares PDF/A-2b and embeds every font; the verify page and
``verify_document`` name the agreement; a Falun user cannot download Mora's."""

import hashlib
import io
import subprocess
import tempfile

import pikepdf
import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts import audit_reasons as reasons
from cases.agreements import pades
from cases.agreements.services import current_decision_material, current_signed_agreement
from cases.models import AgreementDocument, DocumentProduction, Stage
from tests.documents.test_decision_material import accept_review, download, embedded_fonts, pdf_pages_text
from tests.factories import agreement_in_stage
from tests.workflows.helpers import login, open_task, sign_post, step_url

pytestmark = pytest.mark.django_db

TASK = "cases.agreements.tasks.produce_signed_agreement"


def run_worker_tasks():
    """Run the queued production tasks as the worker does (claim, call, mark done).
    ``db_worker`` itself closes the test's database connection, so its steps are taken here."""
    ran = 0
    for row in DBTaskResult.objects.ready().filter(task_path=TASK):
        row.claim("test-worker")
        row.set_successful(row.task.call(*row.args_kwargs["args"], **row.args_kwargs["kwargs"]))
        ran += 1
    return ran


def pdfsig(data: bytes) -> str:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(data)
        handle.flush()
        result = subprocess.run(["pdfsig", handle.name], capture_output=True, text=True)
    return result.stdout + result.stderr


def flip_one_signed_byte(data: bytes) -> bytes:
    """One byte changed inside the first signed range, in the text of a page (not in a hash or offset)."""
    position = data.index(b"stream", len(data) // 4) + 20
    changed = bytearray(data)
    changed[position] ^= 0x01
    return bytes(changed)


def decide(client, user, agreement, step, document):
    login(client, user)
    form = {
        "body": "Kultur- och bildningsnämnden" if step == "region_decision" else "Kommunstyrelsen",
        "meeting_date": timezone.localdate().isoformat(),
        "paragraph": "§ 45",
        "outcome": "approved",
        "document_sha256": document.sha256,
    }
    response = client.post(step_url(open_task(agreement, step)), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    client.logout()


def sign(client, user, agreement, step):
    login(client, user)
    response = client.post(step_url(open_task(agreement, step)), sign_post(agreement))
    assert response.status_code == 302, response.content.decode()[:2000]
    client.logout()


def walk_to_signed(client, coordinator, mora_head, mora_official):
    agreement = agreement_in_stage(Stage.REVIEW, "Mora", coordinator=coordinator, head=mora_head)
    accept_review(client, mora_head, agreement)
    decided = current_decision_material(agreement)
    decide(client, coordinator, agreement, "region_decision", decided)
    decide(client, mora_official, agreement, "municipal_decision", decided)
    agreement.refresh_from_db()
    assert agreement.stage == Stage.SIGNING
    sign(client, coordinator, agreement, "sign_region")
    assert not DocumentProduction.objects.filter(agreement=agreement).exists()  # one signature: nothing yet
    sign(client, mora_head, agreement, "sign_municipality")
    agreement.refresh_from_db()
    assert agreement.stage == Stage.IN_FORCE
    return agreement, decided


def test_the_signed_agreement_is_produced_sealed_and_verifiable(
    client, signing_certificate, coordinator, auditor, mora_head, mora_official, falun_head, tmp_path
):
    agreement, decided = walk_to_signed(client, coordinator, mora_head, mora_official)

    # The last signature queued the job and the worker's task in its transaction; nothing is produced yet.
    production = DocumentProduction.objects.get(agreement=agreement)
    assert production.state == DocumentProduction.State.QUEUED
    assert production.history.get().history_change_reason == str(reasons.SIGNED_AGREEMENT_QUEUED)
    assert current_signed_agreement(agreement) is None
    login(client, coordinator)
    page = client.get(reverse("workflows:agreement", args=[agreement.pk])).content.decode()
    assert "framställs" in page

    assert run_worker_tasks() == 1
    production.refresh_from_db()
    assert production.state == DocumentProduction.State.DONE, production.error
    signed = current_signed_agreement(agreement)
    assert production.document == signed and signed.kind == AgreementDocument.Kind.SIGNED_AGREEMENT
    assert signed.revision == decided.revision and signed.fingerprint == decided.fingerprint
    # Stored once, its SHA-256 in the audit history.
    row = signed.history.get()
    assert row.sha256 == signed.sha256
    assert row.history_change_reason == reasons.signed_agreement_produced(round=1, sha256=signed.sha256)
    assert run_worker_tasks() == 0  # nothing left; and running the job again changes nothing
    from cases.agreements.services import signed_agreement_produce

    signed_agreement_produce(agreement_id=agreement.pk)
    assert AgreementDocument.objects.filter(agreement=agreement, kind="signed_agreement").count() == 1

    # The agreement's page links it; parties, coordinators and auditors download it.
    page = client.get(reverse("workflows:agreement", args=[agreement.pk])).content.decode()
    assert reverse("workflows:document", args=[signed.pk]) in page and signed.sha256 in page
    data = download(client, signed)
    assert hashlib.sha256(data).hexdigest() == signed.sha256
    for user in (auditor, mora_head):
        client.logout()
        login(client, user)
        assert download(client, signed) == data
    client.logout()
    login(client, falun_head)
    assert client.get(reverse("workflows:document", args=[signed.pk])).status_code == 404
    client.logout()

    # The decided pages, unchanged in text, then the verifikat.
    with decided.file.open("rb") as handle:
        decided_pages = pdf_pages_text(handle.read())
    pages = pdf_pages_text(data)
    assert pages[: len(decided_pages)] == decided_pages
    verifikat = "\n".join(pages[len(decided_pages) :])
    assert "Verifikat" in verifikat and agreement.case_number in verifikat
    assert "Lars Mora" in verifikat and "Anna Samordnare" in verifikat
    assert "Mora" in verifikat and "Region Dalarna" in verifikat
    assert "Kulturchef" in verifikat and "Regional samordnare" in verifikat
    flat = " ".join(verifikat.split())
    assert "e-underskrift i Samverkan med förnyad inloggning (lösenord)" in flat
    assert decided.sha256[:40] in verifikat.replace("\n", "").replace(" ", "")
    local = timezone.localtime(agreement.signatures.get(party="municipality").signed_at)
    assert local.strftime("%Y-%m-%d %H:%M") in verifikat

    # Still PDF/A-2b, declared in the XMP; every font embedded, the verifikat's too.
    with pikepdf.open(io.BytesIO(data)) as pdf:
        meta = pdf.open_metadata()
        assert meta["pdfaid:part"] == "2" and meta["pdfaid:conformance"] == "B"
        assert len(pdf.pages) == len(pages)
    fonts = embedded_fonts(data)
    assert fonts and all(embedded == "yes" for _name, embedded in fonts), fonts

    # pyHanko's validator, the configured certificate as trust root: intact, valid, whole file.
    check = pades.validate_pdf(data)
    assert check.ok, check
    assert "Region Dalarna" in check.signer
    # poppler's pdfsig: valid, and the whole document signed.
    report = pdfsig(data)
    assert "Signature Validation: Signature is Valid." in report, report
    assert "Total document signed" in report, report

    # One byte changed inside the signed range: both say so.
    altered = flip_one_signed_byte(data)
    check = pades.validate_pdf(altered)
    assert check.present and not check.ok and not (check.intact and check.valid), check
    report = pdfsig(altered)
    assert "Signature is Valid." not in report, report
    assert "Digest Mismatch" in report or "Signature is Invalid" in report, report

    # The verify page: issued, sealed, for which agreement; the altered copy: altered.
    login(client, coordinator)
    url = reverse("workflows:verify_document")
    answer = client.post(url, {"file": io.BytesIO(data)})
    text = answer.content.decode()
    assert answer.status_code == 200
    assert "har utfärdats av systemet" in text and agreement.case_number in text
    assert "obruten och giltig" in text
    answer = client.post(url, {"file": io.BytesIO(altered)})
    assert answer.status_code == 200
    assert "har ändrats sedan den skrevs under" in answer.content.decode()

    # manage.py verify_document FILE: the same, with exit status 0 and 1.
    good, bad = tmp_path / "signed.pdf", tmp_path / "altered.pdf"
    good.write_bytes(data)
    bad.write_bytes(altered)
    out = io.StringIO()
    call_command("verify_document", str(good), stdout=out)
    assert agreement.case_number in out.getvalue() and "obruten och giltig" in out.getvalue()
    with pytest.raises(SystemExit) as exit_status:
        call_command("verify_document", str(bad), stdout=(out := io.StringIO()))
    assert exit_status.value.code == 1
    assert "ändrad" in out.getvalue()


def test_no_usable_certificate_fails_visibly_and_can_be_queued_again(
    client, settings, tmp_path, coordinator, mora_head, mora_official
):
    settings.SIGNING_PKCS12 = settings.SIGNING_CERT = settings.SIGNING_KEY = ""
    agreement, _decided = walk_to_signed(client, coordinator, mora_head, mora_official)
    assert run_worker_tasks() == 1
    production = DocumentProduction.objects.get(agreement=agreement)
    assert production.state == DocumentProduction.State.FAILED and production.attempts == 1
    assert "Inget certifikat för underskrift" in production.error, production.error
    assert current_signed_agreement(agreement) is None
    # The agreement's page says so (not a 500).
    login(client, coordinator)
    response = client.get(reverse("workflows:agreement", args=[agreement.pk]))
    assert response.status_code == 200
    assert "kunde inte framställas" in response.content.decode()
    assert production.error in response.content.decode()

    # A certificate without its key: refused with its own message.
    certificate, key = pades.make_demo_certificate(common_name="TEST", organisation="Region Dalarna (test)")
    pades.write_pem(certificate, key, cert_path=tmp_path / "c.pem", key_path=tmp_path / "k.pem")
    settings.SIGNING_CERT = str(tmp_path / "c.pem")
    call_command("produce_signed_agreements", stdout=io.StringIO())
    assert run_worker_tasks() == 1
    production.refresh_from_db()
    assert production.state == DocumentProduction.State.FAILED and production.attempts == 2
    assert "privat nyckel" in production.error, production.error

    # With the key: produced.
    settings.SIGNING_KEY = str(tmp_path / "k.pem")
    call_command("produce_signed_agreements", stdout=io.StringIO())
    assert run_worker_tasks() == 1
    production.refresh_from_db()
    assert production.state == DocumentProduction.State.DONE
    assert pades.validate_pdf(current_signed_agreement(agreement).file.open("rb").read()).ok
