"""Issue #12, item 3: signing by the signatory, over HTTP as the people who do it.

The signatory signs for themselves after confirming who they are again (their
password); name, title and time come from their account and the server's
clock; the frozen document's hash is posted back and checked. A coordinator
cannot sign for a cultural head, but may register a paper signature with its scan.
"""

import datetime

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from viewflow.workflow.models import Task

from cases.agreements.services import current_decision_material, document_freeze
from cases.models import Signature, Stage
from tests.factories import agreement_in_stage
from tests.workflows.helpers import login, open_task, sign_post, step_url
from workflows.flows import AgreementFlow
from workflows.nodes import OPEN

pytestmark = pytest.mark.django_db

SCAN = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n"


def signing_open(agreement, step):
    return Task.objects.filter(
        process__agreementprocess__agreement=agreement, flow_task=getattr(AgreementFlow, step), status__in=OPEN
    ).exists()


@pytest.fixture
def signing(coordinator, mora_head):
    agreement = agreement_in_stage(Stage.SIGNING, "Mora", coordinator=coordinator, head=mora_head)
    if current_decision_material(agreement) is None:
        document_freeze(actor=coordinator, agreement=agreement)
    return agreement


def test_the_cultural_head_signs_for_themselves_after_giving_their_password(client, signing, mora_head):
    document = current_decision_material(signing)
    login(client, mora_head)
    url = step_url(open_task(signing, "sign_municipality"))
    page = client.get(url).content.decode()
    # The page shows the frozen document, its link and its SHA-256, and asks for the password.
    assert reverse("workflows:document", args=[document.pk]) in page
    assert document.sha256 in page
    assert 'name="password"' in page and 'name="signatory_name"' not in page
    # Whatever the form says about who and when is not used.
    forged = {**sign_post(signing), "signatory_name": "Någon annan", "signed_on": "2023-02-01"}
    response = client.post(url, forged, REMOTE_ADDR="192.0.2.7")
    assert response.status_code == 302, response.content.decode()[:2000]
    signature = Signature.objects.get(agreement=signing, party="municipality")
    assert (signature.signatory, signature.signatory_name, signature.recorded_by) == (mora_head, "Lars Mora", mora_head)
    assert (signature.organisation, signature.role) == (signing.municipality, "cultural_head")
    assert (signature.auth_method, signature.client_address) == ("password", "192.0.2.7")
    assert signature.document_sha256 == document.sha256
    assert abs(signature.signed_at - timezone.now()) < datetime.timedelta(minutes=1)
    assert signature.signed_on == timezone.localdate()
    assert not signing_open(signing, "sign_municipality")


def test_a_wrong_password_writes_nothing(client, signing, mora_head):
    login(client, mora_head)
    url = step_url(open_task(signing, "sign_municipality"))
    response = client.post(url, sign_post(signing, password="fel-lösenord"))
    assert response.status_code == 400
    assert "Lösenordet stämmer inte." in response.content.decode()
    assert not Signature.objects.filter(agreement=signing).exists()
    # Nor may the field be left empty without a recent confirmation.
    response = client.post(url, sign_post(signing, password=""))
    assert response.status_code == 400
    assert "Bekräfta vem du är för att skriva under." in response.content.decode()
    assert not Signature.objects.filter(agreement=signing).exists()


def test_a_confirmation_counts_for_a_few_minutes(client, signing, mora_head, settings):
    """A stale page refused after a correct password: within SIGNING_REAUTH_MINUTES the
    signatory may sign without typing it again; after them, not."""
    settings.SIGNING_REAUTH_MINUTES = 5
    login(client, mora_head)
    url = step_url(open_task(signing, "sign_municipality"))
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        stale = {**sign_post(signing), "document_sha256": "0" * 64}
        assert client.post(url, stale).status_code == 400  # the password was right: it counts
        traveller.shift(datetime.timedelta(minutes=6))
        assert client.post(url, sign_post(signing, password="")).status_code == 400
        assert client.post(url, stale).status_code == 400  # refused, but the password confirms anew
        traveller.shift(datetime.timedelta(minutes=2))
        assert client.post(url, sign_post(signing, password="")).status_code == 302
    assert Signature.objects.get(agreement=signing).auth_method == "password"


def test_a_stale_document_is_refused(client, signing, coordinator):
    login(client, coordinator)
    url = step_url(open_task(signing, "sign_region"))
    for digest in ("0" * 64, ""):
        response = client.post(url, {**sign_post(signing), "document_sha256": digest})
        assert response.status_code == 400
        assert "inte överenskommelsens aktuella beslutsunderlag" in response.content.decode()
    assert not Signature.objects.filter(agreement=signing).exists()
    assert client.post(url, sign_post(signing)).status_code == 302
    assert Signature.objects.get(agreement=signing).party == "region"


def test_a_coordinator_cannot_sign_for_the_cultural_head(client, signing, coordinator):
    login(client, coordinator)
    response = client.post(step_url(open_task(signing, "sign_municipality")), sign_post(signing))
    assert response.status_code == 403
    assert not Signature.objects.filter(agreement=signing).exists()


def test_a_coordinator_registers_a_paper_signature(client, signing, coordinator, mora_head, mora_official):
    login(client, coordinator)
    detail = reverse("workflows:agreement", args=[signing.pk])
    url = reverse("workflows:paper_signature", args=[signing.pk, "municipality"])
    assert url in client.get(detail).content.decode()
    digest = current_decision_material(signing).sha256
    # Without the scan, or with someone who does not sign for the party: refused, nothing written.
    response = client.post(url, {"signatory": mora_head.pk, "document_sha256": digest})
    assert response.status_code == 400
    response = client.post(
        url,
        {
            "signatory": mora_official.pk,
            "document_sha256": digest,
            "signed_copy": SimpleUploadedFile("underskrift.pdf", SCAN, "application/pdf"),
        },
    )
    assert response.status_code == 400
    assert not Signature.objects.filter(agreement=signing).exists()
    assert not signing.attachments.exists()
    scan = SimpleUploadedFile("underskrift.pdf", SCAN, "application/pdf")
    response = client.post(url, {"signatory": mora_head.pk, "document_sha256": digest, "signed_copy": scan})
    assert response.status_code == 302, response.content.decode()[:2000]
    signature = Signature.objects.get(agreement=signing, party="municipality")
    assert (signature.signatory, signature.recorded_by, signature.auth_method) == (mora_head, coordinator, "paper")
    assert signature.signatory_name == "Lars Mora" and signature.signed_copy.original_name == "underskrift.pdf"
    assert not signing_open(signing, "sign_municipality")
    page = client.get(detail).content.decode()
    assert "registrerad pappersunderskrift" in page
    assert reverse("workflows:attachment", args=[signature.signed_copy.pk]) in page
    assert url not in page  # the step is taken


def test_a_cultural_head_cannot_register_a_paper_signature(client, signing, mora_head):
    login(client, mora_head)
    url = reverse("workflows:paper_signature", args=[signing.pk, "region"])
    assert client.get(url).status_code == 403
