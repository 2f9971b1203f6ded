"""Documents and attached files through the API, scoped like the pages: listed
with their SHA-256, downloaded byte for byte with the hash in the headers, and
refused as JSON (404 for another municipality's, 409 for damaged bytes).
Signatures read with how the system knows who signed."""

import base64
import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.history import audit_context
from accounts.models import Role
from cases.models import AgreementDocument, Attachment, Stage
from storage.models import FileIntegrityEvent
from tests.api.conftest import token_client
from tests.factories import agreement_in_stage
from tests.perf.test_api_query_budgets import token_client as role_token_client
from tests.perf.test_query_budgets import assert_same_budget
from tests.storage.conftest import damage_chunk, pdf_bytes

pytestmark = pytest.mark.django_db
AGREEMENTS = "/api/v1/agreements/"


@pytest.fixture
def two(coordinator, falun_head, mora_head):
    return {
        "falun": agreement_in_stage(Stage.APPROVAL, "Falun", coordinator=coordinator, head=falun_head),
        "mora": agreement_in_stage(Stage.IN_FORCE, "Mora", coordinator=coordinator, head=mora_head),
    }


def body(response):
    return b"".join(response.streaming_content) if response.streaming else response.content


def assert_is_the_file(response, data, sha256, content_type):
    """The response is ``data`` (read once: it is streamed), with its hash in the headers."""
    assert response.status_code == 200, body(response)[:300]
    assert response["Content-Type"] == content_type
    assert body(response) == data
    assert hashlib.sha256(data).hexdigest() == sha256
    assert response["X-Content-SHA256"] == sha256
    assert response["Repr-Digest"] == f"sha-256=:{base64.b64encode(hashlib.sha256(data).digest()).decode()}:"
    assert response["ETag"] == f'"{sha256}"'
    assert response["Content-Disposition"].startswith("attachment;")


def stored_bytes(record):
    with record.file.storage.open(record.file.name, "rb") as stored:
        return stored.read()


def test_a_token_lists_and_downloads_its_municipalitys_documents(two, falun_token):
    client = token_client(falun_token.key)
    listed = client.get(f"{AGREEMENTS}{two['falun'].pk}/documents/")
    assert listed.status_code == 200, listed.content
    [row] = listed.json()
    document = AgreementDocument.objects.get(agreement=two["falun"])
    assert row["id"] == document.pk and row["kind"] == "decision_material" and row["round"] == 1
    assert row["sha256"] == document.sha256 and row["size"] == document.size
    assert row["filename"].endswith(".pdf")
    # the agreement's detail lists them too, with the same link
    detail = client.get(f"{AGREEMENTS}{two['falun'].pk}/").json()
    assert [d["file_url"] for d in detail["documents"]] == [row["file_url"]]

    response = client.get(row["file_url"])
    data = stored_bytes(document)
    assert data.startswith(b"%PDF-")
    assert_is_the_file(response, data, document.sha256, "application/pdf")
    assert row["filename"] in response["Content-Disposition"]
    # a client asking for the PDF by type gets it (no 406)
    by_type = token_client(falun_token.key).get(row["file_url"], HTTP_ACCEPT="application/pdf")
    assert body(by_type) == data


def test_another_municipalitys_documents_and_files_are_404_to_a_token_and_a_session(
    two, falun_token, falun_head, coordinator
):
    from django.test import Client

    mora = two["mora"]
    mora_document = AgreementDocument.objects.filter(agreement=mora).first()
    signed_copy = Attachment.objects.create(
        agreement=mora,
        kind=Attachment.Kind.OTHER,
        original_name="x.pdf",
        content_type="application/pdf",
        size=1,
        sha256="0" * 64,
        uploaded_by=coordinator,
    )
    session = Client()
    session.force_login(falun_head)
    for client in (token_client(falun_token.key, "en"), session):
        for url in (
            f"{AGREEMENTS}{mora.pk}/documents/",
            f"/api/v1/documents/{mora_document.pk}/file/",
            f"/api/v1/attachments/{signed_copy.pk}/file/",
        ):
            response = client.get(url)
            assert response.status_code == 404, (url, response.content)
            assert response["Content-Type"].startswith("application/json")
            assert response.json()["message"] and mora.case_number not in response.content.decode()
    # an id that does not exist is answered the same
    assert token_client(falun_token.key).get("/api/v1/documents/999999999/file/").status_code == 404


def test_an_auditor_token_reads_every_municipalitys_documents(two, auditor_token):
    client = token_client(auditor_token.key)
    for agreement in two.values():
        rows = client.get(f"{AGREEMENTS}{agreement.pk}/documents/").json()
        assert rows, agreement
        for row in rows:
            stored = stored_bytes(AgreementDocument.objects.get(pk=row["id"]))
            assert_is_the_file(client.get(row["file_url"]), stored, row["sha256"], "application/pdf")


def test_every_kind_of_document_is_listed(two, falun_token, coordinator):
    """A kind added later (the signed final PDF is coming on another branch) is
    listed and downloaded without a change here."""
    frozen = AgreementDocument.objects.get(agreement=two["falun"])
    with audit_context(actor=coordinator, reason="Test: a later kind"):
        later = AgreementDocument.objects.create(
            agreement=frozen.agreement,
            revision=frozen.revision,
            kind="signed_final",
            file=frozen.file.name,
            size=frozen.size,
            sha256=frozen.sha256,
            fingerprint=frozen.fingerprint,
            created_by=coordinator,
        )
    client = token_client(falun_token.key)
    rows = client.get(f"{AGREEMENTS}{two['falun'].pk}/documents/").json()
    assert [(r["id"], r["kind"]) for r in rows] == [(frozen.pk, "decision_material"), (later.pk, "signed_final")]
    assert client.get(rows[1]["file_url"]).status_code == 200


def test_an_attached_file_downloads_as_uploaded(two, falun_token, mora_head):
    client = token_client(falun_token.key)
    data = pdf_bytes(5000)
    upload = client.post(
        f"{AGREEMENTS}{two['falun'].pk}/attachments/",
        {"file": SimpleUploadedFile("Protokoll KS.pdf", data, content_type="application/pdf")},
    )
    assert upload.status_code == 201, upload.content
    created = upload.json()
    assert created["sha256"] == hashlib.sha256(data).hexdigest()
    response = client.get(created["file_url"])
    assert_is_the_file(response, data, created["sha256"], "application/pdf")
    assert "Protokoll KS.pdf" in response["Content-Disposition"]
    listed = client.get(f"{AGREEMENTS}{two['falun'].pk}/").json()["attachments"]
    assert [a["file_url"] for a in listed] == [created["file_url"]]


def test_damaged_bytes_are_refused_as_json_and_logged(two, falun_token, falun_head):
    client = token_client(falun_token.key, "en")
    data = pdf_bytes(3000)
    created = client.post(
        f"{AGREEMENTS}{two['falun'].pk}/attachments/",
        {"file": SimpleUploadedFile("avtal.pdf", data, content_type="application/pdf")},
    ).json()
    damage_chunk(created["sha256"], seq=0)
    response = client.get(created["file_url"])
    assert response.status_code == 409
    assert response["Content-Type"].startswith("application/json")
    message = response.json()["message"]
    assert "avtal.pdf" in message and "checksum" in message and "audit log" in message
    assert data[:40] not in response.content
    event = FileIntegrityEvent.objects.get()
    assert (event.kind, event.object_label, event.object_id) == ("mismatch", "cases.attachment", str(created["id"]))
    assert event.user == falun_token.token.account
    swedish = token_client(falun_token.key, "sv").get(created["file_url"])
    assert swedish.status_code == 409 and "kontrollsumma" in swedish.json()["message"]


def test_signatures_are_read_with_how_the_system_knows_who_signed(two, falun_token, auditor_token):
    mora = two["mora"]
    signatures = token_client(auditor_token.key).get(f"{AGREEMENTS}{mora.pk}/").json()["signatures"]
    assert {s["party"] for s in signatures} == {"region", "municipality"}
    for row in signatures:
        stored = mora.signatures.get(pk=row["id"])
        assert row["signatory_name"] == stored.signatory_name and row["signed_on"] == stored.signed_on.isoformat()
        assert row["signatory"] == stored.signatory_id and row["organisation"] == stored.organisation_id
        assert row["auth_method"] == stored.auth_method and row["role"] == stored.role
        assert row["document_sha256"] == stored.document_sha256
        assert "client_address" not in row
    # the document signed is among the agreement's documents, by its hash
    documents = {d["sha256"] for d in token_client(auditor_token.key).get(f"{AGREEMENTS}{mora.pk}/documents/").json()}
    assert {s["document_sha256"] for s in signatures if s["document_sha256"]} <= documents
    assert token_client(falun_token.key).get(f"{AGREEMENTS}{mora.pk}/").status_code == 404


# The query budget (tests/perf/test_query_budgets.py's helper). Here rather than in tests/perf,
# whose package-wide load reference adds municipalities of the same names as Dalarna's.
def test_documents_of_an_agreement_as_a_municipal_token(django_assert_max_num_queries):
    """One frozen document, then fifty (a round's decision material each, and
    they are never rewritten): the same queries."""
    from accounts.history import audit_context
    from cases.models import AgreementDocument, AgreementRevision, Stage
    from tests.factories import agreement_in_stage

    agreement = agreement_in_stage(Stage.APPROVAL, "Falun")
    frozen = AgreementDocument.objects.get(agreement=agreement)
    client = role_token_client(Role.OFFICIAL, agreement.municipality)

    def grow():
        with audit_context(actor=frozen.created_by, reason="Mätning"):
            for round_ in range(2, 51):
                revision = AgreementRevision.objects.create(
                    agreement=agreement,
                    round=round_,
                    title=agreement.title,
                    content=frozen.revision.content,
                    created_by=frozen.created_by,
                )
                AgreementDocument.objects.create(
                    agreement=agreement,
                    revision=revision,
                    kind=frozen.kind,
                    file=frozen.file.name,
                    size=frozen.size,
                    sha256=frozen.sha256,
                    fingerprint=frozen.fingerprint,
                    created_by=frozen.created_by,
                )

    def expect(one, many):
        import json

        assert len(json.loads(one)) == 1
        assert [row["round"] for row in json.loads(many)] == list(range(1, 51))

    assert_same_budget(
        client,
        f"/api/v1/agreements/{agreement.pk}/documents/",
        grow,
        expect=expect,
        django_assert_max_num_queries=django_assert_max_num_queries,
        rows_as_values=False,  # DRF serializers read instances; the queries are what is fixed here
    )
