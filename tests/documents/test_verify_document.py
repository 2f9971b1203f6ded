"""Verification of a document (issue #12): the page and ``manage.py
verify_document`` say whether a PDF is one the system issued, unchanged, and
for which agreement; a changed byte, a file never issued, one that is not a
PDF, cut short or too large each get a plain answer, never a 5xx, and nothing
is written."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from cases.agreements import verification
from cases.models import AgreementDocument, Stage
from tests.factories import agreement_in_stage
from tests.workflows.helpers import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def issued(coordinator, mora_head):
    """A Mora agreement in approval and the bytes of its frozen decision material."""
    agreement_in_stage(Stage.APPROVAL, "Mora", coordinator=coordinator, head=mora_head)
    document = AgreementDocument.objects.get()
    with document.file.open("rb") as handle:
        return document, handle.read()


def changed(data: bytes) -> bytes:
    """One byte changed, in the middle of the file."""
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :]


def verify(client, data, name="dokument.pdf"):
    return client.post(reverse("workflows:verify_document"), {"file": SimpleUploadedFile(name, data)})


def test_the_page_names_the_agreement_to_those_who_may_see_it(client, issued, coordinator, falun_head):
    document, data = issued
    login(client, coordinator)
    assert client.get(reverse("workflows:verify_document")).status_code == 200
    page = verify(client, data).content.decode()
    assert "Utfärdad av systemet, oförändrad" in page
    assert document.sha256 in page and document.agreement.case_number in page

    # One byte changed: not verified, with the file's own hash.
    response = verify(client, changed(data))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Inte verifierad" in page and "stämmer inte med något registrerat dokument" in page
    assert document.agreement.case_number not in page
    client.logout()

    # Falun's cultural head learns that the file is genuine, not whose it is.
    login(client, falun_head)
    page = verify(client, data).content.decode()
    assert "Utfärdad av systemet, oförändrad" in page
    assert document.agreement.case_number not in page and "inte har behörighet till" in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "Den skickade filen är tom."),  # Django's own check
        (b"PK\x03\x04 a zip, not a PDF", "Filen är inte en PDF."),
        (b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog", "ofullständig (avkortad)"),
    ],
)
def test_bad_uploads_get_a_plain_answer_next_to_the_field(client, coordinator, data, message):
    login(client, coordinator)
    response = verify(client, data)
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page and "Fel:" in page


def test_a_cut_short_copy_of_a_real_document(client, issued, coordinator):
    _document, data = issued
    login(client, coordinator)
    response = verify(client, data[: len(data) // 2])
    assert response.status_code == 400 and "ofullständig (avkortad)" in response.content.decode()


def test_a_huge_file_is_refused(client, coordinator):
    login(client, coordinator)
    huge = b"%PDF-1.7\n" + b"0" * verification.MAX_UPLOAD_BYTES + b"\n%%EOF\n"
    response = verify(client, huge)
    assert response.status_code == 400 and "Filen är större än 20 MB" in response.content.decode()


def test_manage_py_verify_document(issued, tmp_path, capsys):
    document, data = issued
    good = tmp_path / "good.pdf"
    good.write_bytes(data)
    call_command("verify_document", str(good))
    out = capsys.readouterr().out
    assert "oförändrad" in out and document.sha256 in out and document.agreement.case_number in out

    bad = tmp_path / "bad.pdf"
    bad.write_bytes(changed(data))
    with pytest.raises(SystemExit) as exit_:
        call_command("verify_document", str(bad))
    assert exit_.value.code == 1
    assert "inte utfärdats av systemet" in capsys.readouterr().out

    text = tmp_path / "text.pdf"
    text.write_bytes(b"hello")
    with pytest.raises(SystemExit):
        call_command("verify_document", str(text))
    assert "inte en PDF" in capsys.readouterr().out
