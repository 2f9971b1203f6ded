"""The import's optional scanned PDFs over HTTP as a coordinator: PDF files or a
ZIP of them, named in the column "skannad pdf", checked in the dry run (each
bad file told, in Swedish, nothing written) and stored on confirmation as the
agreement's signed copy, in the import's one transaction."""

import csv
import io
import zipfile

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts import audit_reasons as reasons
from cases.agreements import imports
from cases.models import Agreement, Attachment, Signature
from storage.models import StoredFile
from tests.workflows.helpers import login

from .test_import import URL, csv_file, row

pytestmark = pytest.mark.django_db

HEADERS = imports.HEADERS + [imports.SCAN_COLUMN]


def pdf(text="Ludvika"):
    return f"%PDF-1.4\n% Undertecknad överenskommelse {text}\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n".encode()


def zip_of(entries, name="skanningar.zip"):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry, data in entries.items():
            archive.writestr(entry, data)
    return SimpleUploadedFile(name, buffer.getvalue())


def sheet(*rows):
    return csv_file(list(rows), headers=HEADERS, name="overenskommelser-2019.csv")


def ludvika(scan="ludvika.pdf"):
    return row(skannad_pdf=scan)


def mora(scan="mora.pdf"):
    return row("2062", "RD 2019/0043", skannad_pdf=scan)


def nothing_written():
    return not Agreement.objects.exists() and not Attachment.objects.exists() and not StoredFile.objects.exists()


@pytest.fixture
def client_(client, coordinator):
    return login(client, coordinator)


def test_a_zip_of_scans_is_checked_then_asked_again_and_stored_as_the_signed_copies(client_, coordinator):
    scans = {"skanningar/ludvika.pdf": pdf("Ludvika"), "skanningar/mora.pdf": pdf("Mora"), "__MACOSX/._mora.pdf": b"x"}
    response = client_.post(URL, {"file": sheet(ludvika(), mora()), "scans": zip_of(scans)})
    assert response.status_code == 200, response.content.decode()
    page = response.content.decode()
    assert "undertecknad kopia ludvika.pdf" in page and "undertecknad kopia mora.pdf" in page
    assert "Välj samma skannade PDF-filer (eller ZIP-fil) igen" in page
    assert page.count('id="id_scans"') == 1 and page.count('id="id_confirm_scans"') == 1  # two forms, own ids
    assert nothing_written()  # the dry run stores no file either
    payload = response.context["payload"]

    # Confirmed without the files, or with another one: asked again, nothing imported.
    response = client_.post(URL, {"payload": payload, "confirm": "1"})
    assert response.status_code == 400 and response.context["payload"] == payload
    assert "saknas eller har ändrats: ludvika.pdf, mora.pdf" in response.content.decode()
    changed = dict(scans, **{"skanningar/mora.pdf": pdf("Mora, ändrad")})
    response = client_.post(URL, {"payload": payload, "confirm": "1", "scans": zip_of(changed)})
    assert response.status_code == 400 and "saknas eller har ändrats: mora.pdf" in response.content.decode()
    assert nothing_written()

    response = client_.post(URL, {"payload": payload, "confirm": "1", "scans": zip_of(scans)})
    assert response.status_code == 302, response.content.decode()
    why = reasons.imported_from(file_name="overenskommelser-2019.csv")
    for case_number, text in (("RD 2019/0042", "Ludvika"), ("RD 2019/0043", "Mora")):
        agreement = Agreement.objects.get(case_number=case_number)
        copy = agreement.attachments.get()
        assert copy.kind == Attachment.Kind.SIGNED_COPY and copy.content_type == "application/pdf"
        assert copy.original_name == f"{text.lower()}.pdf" and copy.uploaded_by == coordinator
        with default_storage.open(copy.file.name) as handle:
            assert handle.read() == pdf(text)
        assert {s.signed_copy_id for s in agreement.signatures.all()} == {copy.pk}
        assert {r.history_change_reason for r in Attachment.history.filter(id=copy.pk)} == {why}
        # The agreement's page links the signed copy, and it downloads.
        page = client_.get(reverse("workflows:agreement", args=[agreement.pk])).content.decode()
        assert reverse("workflows:attachment", args=[copy.pk]) in page
        download = client_.get(reverse("workflows:attachment", args=[copy.pk]))
        assert download.status_code == 200 and b"".join(
            download.streaming_content if download.streaming else [download.content]
        ) == pdf(text)


def test_several_pdf_files_work_too_and_rows_without_a_scan_need_none(client_):
    files = [SimpleUploadedFile("Ludvika.PDF", pdf("Ludvika"))]
    response = client_.post(URL, {"file": sheet(ludvika("ludvika.pdf"), mora("")), "scans": files})
    assert response.status_code == 200, response.content.decode()
    files = [SimpleUploadedFile("Ludvika.PDF", pdf("Ludvika"))]
    response = client_.post(URL, {"payload": response.context["payload"], "confirm": "1", "scans": files})
    assert response.status_code == 302
    assert Agreement.objects.get(case_number="RD 2019/0042").attachments.get().original_name == "Ludvika.PDF"
    assert not Agreement.objects.get(case_number="RD 2019/0043").attachments.exists()
    assert not Signature.objects.filter(agreement__case_number="RD 2019/0043", signed_copy__isnull=False).exists()


def test_the_template_has_the_scan_column(client_):
    template = client_.get(reverse("workflows:import_template", args=["csv"])).content.decode("utf-8-sig")
    header, example = csv.reader(io.StringIO(template), delimiter=";")
    assert header == HEADERS and example[-1] == imports.EXAMPLE_SCAN


ROW_ERRORS = [
    (
        {"ludvika.pdf": pdf()},
        [ludvika(), mora()],
        "Den skannade PDF-filen ”mora.pdf” finns inte bland de uppladdade filerna.",
    ),
    (
        {"ludvika.pdf": b"\x89PNG\r\n\x1a\n not a pdf", "mora.pdf": pdf()},
        [ludvika(), mora()],
        "Filen ludvika.pdf är inte en PDF.",
    ),
    (
        {"ludvika.docx": pdf(), "mora.pdf": pdf()},
        [ludvika("ludvika.docx"), mora()],
        "Filen ludvika.docx är inte en PDF.",
    ),
    (
        {"ludvika.pdf": pdf()},
        [ludvika(), mora("ludvika.pdf")],
        "Den skannade PDF-filen ”ludvika.pdf” nämns också på rad 2.",
    ),
]


@pytest.mark.parametrize("scans, rows, message", ROW_ERRORS)
def test_a_bad_scan_is_told_on_its_row_and_nothing_is_written(client_, scans, rows, message):
    response = client_.post(URL, {"file": sheet(*rows), "scans": zip_of(scans)})
    assert response.status_code == 400 and response.context["payload"] is None
    assert message in response.content.decode()
    assert nothing_written()


def test_a_scan_over_the_size_limit_is_told_on_its_row(client_, monkeypatch):
    monkeypatch.setattr(imports, "MAX_SCAN_BYTES", 1000)
    big = pdf() + b"0" * 2000
    for scans in (zip_of({"ludvika.pdf": big}), [SimpleUploadedFile("ludvika.pdf", big)]):
        response = client_.post(URL, {"file": sheet(ludvika()), "scans": scans})
        assert response.status_code == 400 and response.context["payload"] is None
        assert "Filen ludvika.pdf är större än 1000\xa0byte" in response.content.decode()
    assert nothing_written()


def broken_zip():
    return SimpleUploadedFile("skanningar.zip", b"PK\x03\x04 not really a zip archive")


def traversal_zip():
    return zip_of({"../../etc/ludvika.pdf": pdf()})


def many_zip():
    return zip_of({f"{n}.pdf": pdf(str(n)) for n in range(4)})


def bomb_zip():
    return zip_of({"ludvika.pdf": pdf() + b"\x00" * (3 << 20)})


@pytest.mark.parametrize(
    "make, message",
    [
        (broken_zip, "skanningar.zip är inte ett ZIP-arkiv som går att läsa."),
        (traversal_zip, "skanningar.zip innehåller sökvägen ”../../etc/ludvika.pdf”, som pekar utanför arkivet."),
        (many_zip, "skanningar.zip innehåller fler än 3 filer"),
        (bomb_zip, "skanningar.zip packas upp till mer än 1,0\xa0MB."),
        (
            lambda: [SimpleUploadedFile("ludvika.pdf", pdf()), zip_of({"Ludvika.pdf": pdf()})],
            "Två av de uppladdade filerna heter Ludvika.pdf.",
        ),
        (
            lambda: [SimpleUploadedFile("ludvika.pdf", pdf()), SimpleUploadedFile("extra.pdf", pdf("extra"))],
            "Ingen rad nämner extra.pdf",
        ),
    ],
)
def test_a_bad_archive_is_refused_before_anything_is_written(client_, monkeypatch, make, message):
    monkeypatch.setattr(imports, "MAX_SCAN_FILES", 3)
    monkeypatch.setattr(imports, "MAX_SCANS_BYTES", 1 << 20)
    response = client_.post(URL, {"file": sheet(ludvika()), "scans": make()})
    assert response.status_code == 400 and response.context["payload"] is None
    assert message in response.content.decode()
    assert nothing_written()


def test_scans_over_the_total_limit_are_skipped_while_they_arrive(client_, monkeypatch):
    def must_not_read(*args, **kwargs):
        raise AssertionError("scans over the limit were read")

    monkeypatch.setattr(imports, "MAX_SCANS_BYTES", 100_000)
    monkeypatch.setattr(imports, "read_scans", must_not_read)
    big = SimpleUploadedFile("ludvika.pdf", pdf() + b"0" * 200_000)
    response = client_.post(URL, {"file": sheet(ludvika()), "scans": big})
    assert response.status_code == 400
    assert "De skannade PDF-filerna är tillsammans större än 97,7\xa0kB." in response.content.decode()
    assert nothing_written()
