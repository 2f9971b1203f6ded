"""move_files_to_storage moves MEDIA_ROOT files into the shared storage, checks
each one's hash, reports what it did, and can run again; verify_files checks
every stored file."""

import hashlib
import io

import pytest
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from cases.agreements.services import attachment_add
from cases.models import AgreementDocument, Attachment

from .conftest import damage_chunk, pdf_bytes

pytestmark = pytest.mark.django_db


def run(name, *args):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(name, *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


def legacy_attachment(coordinator, agreement, media, name, data, *, recorded=None):
    """An attachment as the previous version stored it: a path under MEDIA_ROOT."""
    attachment = attachment_add(
        actor=coordinator,
        agreement=agreement,
        uploaded=SimpleUploadedFile(name, data, content_type="application/pdf"),
    )
    old_name = FileSystemStorage(location=media).save(f"attachments/2025/11/{name}", io.BytesIO(data))
    attachment.file.name = old_name
    attachment.sha256 = recorded or hashlib.sha256(data).hexdigest()
    attachment.save()
    return attachment


def test_files_move_with_their_hashes_checked_and_again_is_harmless(tmp_path, coordinator, mora_agreement):
    good = pdf_bytes(1_500_000)
    first = legacy_attachment(coordinator, mora_agreement, tmp_path, "beslut.pdf", good)
    damaged = legacy_attachment(
        coordinator, mora_agreement, tmp_path, "protokoll.pdf", pdf_bytes(3000), recorded="ab" * 32
    )
    history_before = Attachment.history.filter(id=first.pk).count()
    # the agreement's frozen decision material (#12) is already in the storage
    documents = AgreementDocument.objects.count()

    code, out, err = run("move_files_to_storage", "--from", str(tmp_path), "--dry-run")
    assert code == 1 and "would move cases.Attachment.file" in out and "Would move 1 files" in out
    first.refresh_from_db()
    assert first.file.name.startswith("attachments/")

    code, out, err = run("move_files_to_storage", "--from", str(tmp_path))
    assert code == 1  # the damaged one is a problem to look at
    assert f"moved cases.Attachment.file {first.pk}: attachments/2025/11/beslut.pdf -> sha256/" in out
    assert f"Moved 1 files (1.5 MB); {documents} already in the storage; 1 problems." in out
    assert f"MISMATCH cases.Attachment.file {damaged.pk}" in err and "left where it is" in err

    first.refresh_from_db()
    assert first.file.name == f"sha256/{first.sha256}"
    with default_storage.open(first.file.name) as handle:
        assert handle.read() == good
    last = Attachment.history.filter(id=first.pk).latest("history_id")
    assert Attachment.history.filter(id=first.pk).count() == history_before + 1
    assert "move_files_to_storage" in last.history_change_reason
    assert (tmp_path / "attachments/2025/11/beslut.pdf").exists()  # nothing deleted
    damaged.refresh_from_db()
    assert damaged.file.name == "attachments/2025/11/protokoll.pdf"

    code, out, err = run("move_files_to_storage", "--from", str(tmp_path))
    assert "Moved 0 files (0.0 MB);" in out
    assert "already in the storage" in out and f"{Attachment.objects.count() - 1 + documents} already" in out
    assert Attachment.history.filter(id=first.pk).count() == history_before + 1


def test_a_missing_old_file_is_reported(tmp_path, coordinator, mora_agreement):
    attachment = legacy_attachment(coordinator, mora_agreement, tmp_path, "borta.pdf", pdf_bytes(3000))
    (tmp_path / attachment.file.name).unlink()
    code, _out, err = run("move_files_to_storage", "--from", str(tmp_path))
    assert code == 1 and f"MISSING cases.Attachment.file {attachment.pk}: attachments/2025/11/borta.pdf" in err


def test_verify_files_checks_every_stored_file(coordinator, mora_agreement):
    attachments = [
        attachment_add(
            actor=coordinator,
            agreement=mora_agreement,
            uploaded=SimpleUploadedFile(f"f{i}.pdf", pdf_bytes(2000 + i), content_type="application/pdf"),
        )
        for i in range(3)
    ]
    code, out, err = run("verify_files")
    assert (code, err) == (0, "")
    stored = 3 + AgreementDocument.objects.count()  # and the frozen decision material (#12)
    assert f"{stored} stored files checked" in out and "0 problems" in out

    damage_chunk(attachments[1].sha256)
    code, out, err = run("verify_files")
    assert code == 1
    assert f"DAMAGED {attachments[1].file.name}" in err
    assert "1 problems" in out
