"""The embedded file storage: files in PostgreSQL, addressed by SHA-256,
stored once per content, written and read in chunks, never changed or
deleted."""

import hashlib
import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import DatabaseError, transaction

from accounts.audited_models import HistoryBypassRefused
from accounts.history import audit_context
from storage.backends import DatabaseStorage
from storage.models import CHUNK_SIZE, StoredFile, StoredFileChunk

from .conftest import pdf_bytes, run_sql

pytestmark = pytest.mark.django_db


def test_the_default_storage_is_the_database():
    assert isinstance(default_storage, DatabaseStorage)


def test_a_file_is_stored_under_its_hash_in_chunks_and_read_back(coordinator):
    data = pdf_bytes(2 * CHUNK_SIZE + 12345)
    digest = hashlib.sha256(data).hexdigest()
    with audit_context(actor=coordinator):
        name = default_storage.save("attachments/2026/05/beslut.pdf", ContentFile(data))
    assert name == f"sha256/{digest}"
    record = StoredFile.objects.get(sha256=digest)
    assert (record.size, record.created_by) == (len(data), coordinator)
    assert list(StoredFileChunk.objects.filter(file=record).order_by("seq").values_list("seq", flat=True)) == [0, 1, 2]
    assert default_storage.exists(name) and default_storage.size(name) == len(data)
    with default_storage.open(name) as handle:
        assert handle.read() == data
    # reads of any size, from anywhere, cross chunk boundaries correctly
    with default_storage.open(name) as handle:
        handle.seek(CHUNK_SIZE - 3)
        assert handle.read(10) == data[CHUNK_SIZE - 3 : CHUNK_SIZE + 7]
        handle.seek(-5, 2)
        assert handle.read() == data[-5:]
        assert handle.read(100) == b""
        handle.seek(0)
        assert b"".join(handle.chunks(300_000)) == data


def test_the_same_content_is_stored_once(coordinator):
    data = pdf_bytes(5000)
    first = default_storage.save("a.pdf", ContentFile(data))
    second = default_storage.save("b/other-name.pdf", io.BytesIO(data))
    assert first == second
    assert StoredFile.objects.filter(sha256=first.removeprefix("sha256/")).count() == 1
    assert StoredFileChunk.objects.filter(file_id=first.removeprefix("sha256/")).count() == 1


def test_a_rolled_back_upload_leaves_nothing():
    data = pdf_bytes(3000)
    with pytest.raises(RuntimeError), transaction.atomic():
        default_storage.save("x.pdf", ContentFile(data))
        raise RuntimeError("the step failed after storing its file")
    assert not StoredFile.objects.exists()
    assert not StoredFileChunk.objects.exists()


def test_stored_files_are_never_deleted_or_changed():
    name = default_storage.save("x.pdf", ContentFile(pdf_bytes(3000)))
    with pytest.raises(HistoryBypassRefused):
        default_storage.delete(name)
    with pytest.raises(ValueError):
        default_storage.open(name, "wb")
    # and the database refuses it whatever the application does
    for statement in (
        "UPDATE storage_storedfilechunk SET data = '\\x00'::bytea",
        "DELETE FROM storage_storedfilechunk",
        "DELETE FROM storage_storedfile",
        "UPDATE storage_storedfile SET size = 1",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            run_sql(statement)


def test_an_unknown_or_legacy_name_is_not_found():
    assert not default_storage.exists("sha256/" + "0" * 64)
    assert not default_storage.exists("attachments/2026/05/beslut.pdf")
    with pytest.raises(FileNotFoundError):
        default_storage.open("sha256/" + "0" * 64)
    with pytest.raises(FileNotFoundError):
        default_storage.open("attachments/2026/05/beslut.pdf")
