"""Over HTTP, as the people who do it: a file uploaded is downloaded byte for
byte; a file whose stored bytes no longer match their hash (or are gone) is
refused with a clear Swedish page, and the refusal is in the audit log."""

import datetime
import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from cases.agreements.services import attachment_add
from cases.models import Attachment, DialogueMeeting
from storage.models import CHUNK_SIZE, FileIntegrityEvent, StoredFile
from tests.county.conftest import minutes_pdf
from tests.workflows.helpers import login

from .conftest import damage_chunk, pdf_bytes, run_sql

pytestmark = pytest.mark.django_db


def upload(client, agreement, name, data):
    response = client.post(
        reverse("workflows:attachment_upload", args=[agreement.pk]),
        {"file": SimpleUploadedFile(name, data, content_type="application/pdf")},
    )
    assert response.status_code == 302, response.content.decode()[:500]
    return Attachment.objects.filter(agreement=agreement).latest("pk")


def download(client, attachment):
    return client.get(reverse("workflows:attachment", args=[attachment.pk]))


def body(response):
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_an_upload_is_stored_by_hash_and_downloads_byte_for_byte(client, coordinator, mora_head, mora_agreement):
    data = pdf_bytes(CHUNK_SIZE + 777)
    login(client, coordinator)
    attachment = upload(client, mora_agreement, "Beslut KS 2026-05-12.pdf", data)
    digest = hashlib.sha256(data).hexdigest()
    assert attachment.file.name == f"sha256/{digest}" and attachment.sha256 == digest
    assert StoredFile.objects.get(sha256=digest).created_by == coordinator

    login(client, mora_head)  # another user, on "another server": the file is in the shared database
    response = download(client, attachment)
    assert response.status_code == 200
    assert body(response) == data
    assert response["Content-Length"] == str(len(data))
    assert "Beslut KS 2026-05-12.pdf" in response["Content-Disposition"]
    assert not FileIntegrityEvent.objects.exists()


def test_damaged_bytes_are_refused_with_a_clear_message_and_logged(
    client, coordinator, mora_head, mora_agreement, mora_auditor
):
    data = pdf_bytes(CHUNK_SIZE * 2 + 10)
    login(client, coordinator)
    attachment = upload(client, mora_agreement, "avtal.pdf", data)
    damage_chunk(attachment.sha256, seq=1)

    login(client, mora_head)
    response = download(client, attachment)
    assert response.status_code == 409
    html = response.content.decode()
    assert "Filen kan inte laddas ned" in html
    assert "avtal.pdf" in html and "kontrollsumma" in html
    assert "granskningsloggen" in html
    assert data[:20] not in response.content

    event = FileIntegrityEvent.objects.get()
    assert (event.kind, event.user, event.object_label, event.object_id) == (
        "mismatch",
        mora_head,
        "cases.attachment",
        str(attachment.pk),
    )
    assert event.expected_sha256 == attachment.sha256 and event.found_sha256 not in ("", attachment.sha256)
    assert event.ip == "127.0.0.1" and event.chain_hash

    # the auditor finds it in the audit log, in Swedish
    login(client, mora_auditor)
    log = client.get(reverse("workflows:audit_log")).content.decode()
    assert "Nedladdning som nekades" in log
    assert "Lagrade byte stämmer inte med sin kontrollsumma" in log
    assert attachment.file.name in log


def test_a_file_gone_from_the_storage_is_refused_and_logged(client, coordinator, mora_agreement):
    attachment = attachment_add(
        actor=coordinator,
        agreement=mora_agreement,
        uploaded=SimpleUploadedFile("beslut.pdf", pdf_bytes(4000), content_type="application/pdf"),
    )
    run_sql("SET CONSTRAINTS ALL IMMEDIATE")
    run_sql("ALTER TABLE storage_storedfilechunk DISABLE TRIGGER samverkan_audit_append_only")
    run_sql("ALTER TABLE storage_storedfile DISABLE TRIGGER samverkan_audit_append_only")
    run_sql("DELETE FROM storage_storedfilechunk")
    run_sql("DELETE FROM storage_storedfile")
    run_sql("ALTER TABLE storage_storedfilechunk ENABLE TRIGGER samverkan_audit_append_only")
    run_sql("ALTER TABLE storage_storedfile ENABLE TRIGGER samverkan_audit_append_only")

    login(client, coordinator)
    response = download(client, attachment)
    assert response.status_code == 404
    assert "kan inte hittas" in response.content.decode()
    assert FileIntegrityEvent.objects.get().kind == "missing"


def test_meeting_minutes_are_checked_too(client, coordinator, mora_head):
    from cases.meetings import services as meeting_services
    from tests.factories import municipality

    meeting = meeting_services.meeting_record(
        actor=coordinator,
        held_on=timezone.localdate() - datetime.timedelta(days=7),
        place="Falun",
        participants=[municipality("Mora")],
        minutes="",
        action_points=[],
        minutes_file=minutes_pdf(),
    )
    url = reverse("workflows:meeting_minutes", args=[meeting.pk])
    login(client, mora_head)
    response = client.get(url)
    assert response.status_code == 200 and body(response).startswith(b"%PDF")

    damage_chunk(DialogueMeeting.objects.get(pk=meeting.pk).minutes_file_sha256)
    response = client.get(url)
    assert response.status_code == 409
    assert "Filen kan inte laddas ned" in response.content.decode()
    event = FileIntegrityEvent.objects.get()
    assert (event.object_label, event.object_id) == ("cases.dialoguemeeting", str(meeting.pk))
