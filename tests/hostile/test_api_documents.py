"""Hostile requests for the API's documents and files (issue #15, "Bad
input"): another municipality's ids, ids that do not exist or overflow,
revoked and expired tokens, methods that are not there. Each gets a 4xx with
a JSON message, never a 5xx and never the bytes, and nothing is written."""

import datetime

import pytest
import time_machine
from django.utils import timezone

from accounts.models import Role
from api.services import token_revoke
from cases.models import AgreementDocument, Attachment, Stage
from tests.access.test_url_walker import row_counts
from tests.api.conftest import make_token, token_client
from tests.factories import agreement_in_stage, municipality

pytestmark = pytest.mark.django_db


@pytest.fixture
def files(coordinator, falun_head, mora_head):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from cases.agreements.services import attachment_add

    mora = agreement_in_stage(Stage.APPROVAL, "Mora", coordinator=coordinator, head=mora_head)
    falun = agreement_in_stage(Stage.APPROVAL, "Falun", coordinator=coordinator, head=falun_head)
    for agreement in (mora, falun):
        attachment_add(
            actor=coordinator,
            agreement=agreement,
            uploaded=SimpleUploadedFile("bilaga.pdf", b"%PDF-1.4 bilaga " + agreement.case_number.encode()),
        )
    return {
        "mora": mora,
        "falun": falun,
        "mora_document": AgreementDocument.objects.get(agreement=mora),
        "falun_document": AgreementDocument.objects.get(agreement=falun),
        "mora_attachment": Attachment.objects.get(agreement=mora),
        "falun_attachment": Attachment.objects.get(agreement=falun),
    }


def refused_as_json(response, codes):
    assert response.status_code in codes, (response.status_code, response.content[:300])
    assert not response.streaming, "the bytes were handed out"
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["message"]


def test_other_municipalities_ids_and_made_up_ids(files, administrator):
    falun_token = make_token(administrator, municipality("Falun"), Role.CULTURAL_HEAD)
    client = token_client(falun_token.key, "en")
    before = row_counts()
    mora = files["mora"]
    for url in (
        f"/api/v1/documents/{files['mora_document'].pk}/file/",
        f"/api/v1/attachments/{files['mora_attachment'].pk}/file/",
        f"/api/v1/agreements/{mora.pk}/documents/",
        "/api/v1/documents/0/file/",
        "/api/v1/documents/2147483648/file/",
        f"/api/v1/documents/{10**30}/file/",
        f"/api/v1/attachments/{2**63}/file/",
        f"/api/v1/agreements/{10**30}/documents/",
    ):
        response = client.get(url)
        refused_as_json(response, (404,))
        assert mora.case_number not in response.content.decode()
    for url in ("/api/v1/documents/-1/file/", "/api/v1/documents/x/file/"):  # no such route
        assert client.get(url).status_code == 404
    # methods that are not there, on Falun's own document: 405 as JSON, nothing written
    own = f"/api/v1/documents/{files['falun_document'].pk}/file/"
    for method in ("post", "put", "patch", "delete"):
        refused_as_json(getattr(client, method)(own, {}, content_type="application/json"), (405,))
    assert row_counts() == before


def test_revoked_and_expired_tokens_get_401_not_the_file(files, administrator):
    own = [
        f"/api/v1/documents/{files['falun_document'].pk}/file/",
        f"/api/v1/attachments/{files['falun_attachment'].pk}/file/",
        f"/api/v1/agreements/{files['falun'].pk}/documents/",
    ]
    revoked = make_token(administrator, municipality("Falun"), Role.CULTURAL_HEAD)
    assert token_client(revoked.key).get(own[0]).status_code == 200
    token_revoke(actor=administrator, token=revoked.token)
    expired = make_token(administrator, municipality("Falun"), Role.CULTURAL_HEAD, days=1)
    before = row_counts()
    for url in own:
        response = token_client(revoked.key, "en").get(url)
        refused_as_json(response, (401,))
        assert response.json()["message"] == "The token has been revoked."
        with time_machine.travel(timezone.now() + datetime.timedelta(days=2)):
            response = token_client(expired.key, "en").get(url)
        refused_as_json(response, (401,))
        assert response.json()["message"] == "The token has expired."
        for header in ("Bearer svk_nope", f"Bearer {revoked.key}x", "Basic Zm9vOmJhcg=="):
            from django.test import Client

            refused_as_json(Client(HTTP_AUTHORIZATION=header).get(url), (401, 403))
    assert row_counts() == before
