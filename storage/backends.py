"""Storage backends every app server shares, addressed by content.

Attachments, meeting minutes and generated documents go through Django's
storage API (``FileField`` and ``default_storage``), so the backend is a
setting (``FILE_STORAGE``, see ``storage.conf``):

- ``DatabaseStorage`` (the default): the files live in PostgreSQL, in the
  tables of ``storage.models``. One ``pg_dump`` then holds the agreements,
  their history and their documents, consistent with each other, and every
  app server reads what any of them stored. It also works on SQLite (the
  ``make run`` demo uses it there too: one code path).
- ``ContentAddressedS3Storage``: S3-compatible object storage through
  django-storages, for installations that keep files outside the database.

Both store a file under ``sha256/<hex digest of its bytes>``, whatever name it
was uploaded with (the original name stays on the row that refers to it): the
same content is stored once, and the name says what the bytes must hash to,
which ``storage.integrity`` checks on every download.
"""

import hashlib
import re
from contextlib import contextmanager

from django.core.files import File
from django.core.files.storage import Storage
from django.db import connection, transaction
from django.utils.deconstruct import deconstructible

from accounts.audited_models import HistoryBypassRefused
from accounts.history import current_audit_context

PREFIX = "sha256/"
NAME = re.compile(r"^sha256/([0-9a-f]{64})$")
READ_SIZE = 1024 * 1024


def content_name(digest: str) -> str:
    return PREFIX + digest


def digest_of_name(name: str) -> str | None:
    """The SHA-256 a content-addressed name stands for, or None for another name."""
    match = NAME.match(name or "")
    return match.group(1) if match else None


def _chunks(content, size):
    """Blocks of exactly ``size`` bytes (the last one shorter), from the start.
    (``File.chunks()`` is not used: an in-memory upload yields itself whole.)"""
    if hasattr(content, "seek"):
        content.seek(0)
    buffer = b""
    while block := content.read(size - len(buffer)):
        buffer += block
        if len(buffer) == size:
            yield buffer
            buffer = b""
    if buffer:
        yield buffer


def hash_content(content) -> tuple[str, int]:
    """(hex SHA-256, size) of a file-like object, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    for block in _chunks(content, READ_SIZE):
        digest.update(block)
        size += len(block)
    return digest.hexdigest(), size


@contextmanager
def _chunk_writer(model):
    """A function that inserts one chunk. On PostgreSQL the bytes go as a
    binary parameter of a server-bound statement on the transaction's own
    connection: Django's psycopg cursors bind parameters on the client,
    which sends bytea as hex text twice the size for the server to parse
    (measured: 12 MB/s through the ORM against about 60 MB/s this way;
    bench/storage.py). Elsewhere (the SQLite demo) through the ORM."""
    if connection.vendor != "postgresql":
        yield lambda digest, seq, data: model(file_id=digest, seq=seq, data=data).save()
        return
    meta = model._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(meta.get_field(name).column) for name in ("file", "seq", "data"))
    statement = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES (%s, %s, %s)"  # noqa: S608 (names from the model)
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:  # psycopg's own cursor: server-side binding
        yield lambda digest, seq, data: cursor.execute(statement, [digest, seq, data])


class ContentAddressedMixin:
    """Store under ``sha256/<digest>``; a content already stored is not stored again."""

    def save(self, name, content, max_length=None):
        if content is None:
            raise ValueError("There is no content to store.")
        if not hasattr(content, "chunks"):
            content = File(content, name)
        digest, _size = hash_content(content)
        name = content_name(digest)
        if not self.exists(name):
            content.seek(0)
            self._save(name, content)
        return name

    def get_available_name(self, name, max_length=None):
        return name  # the name is the content's: the same name is the same file

    def delete(self, name):
        raise HistoryBypassRefused(
            "Stored files are never deleted: a record that referred to one refers to another instead."
        )


@deconstructible(path="storage.backends.DatabaseStorage")
class DatabaseStorage(ContentAddressedMixin, Storage):
    """Files in the database: ``StoredFile`` rows, their bytes in 1 MiB chunks."""

    def _record(self, name):
        from .models import StoredFile

        digest = digest_of_name(name)
        if digest is None:
            return None
        return StoredFile.objects.filter(sha256=digest).first()

    def exists(self, name):
        from .models import StoredFile

        digest = digest_of_name(name)
        return digest is not None and StoredFile.objects.filter(sha256=digest).exists()

    def _save(self, name, content):
        from .models import CHUNK_SIZE, StoredFile, StoredFileChunk

        digest = digest_of_name(name)
        if digest is None:
            raise ValueError(f"{name!r} is not a content address (sha256/<hex>).")
        with transaction.atomic():
            if connection.vendor == "postgresql":
                # Two servers storing the same new content at once: the second waits, then finds it stored.
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", ["samverkan_file:" + digest]
                    )
            if StoredFile.objects.filter(sha256=digest).exists():
                return name
            check = hashlib.sha256()
            size = 0
            with _chunk_writer(StoredFileChunk) as write:
                for seq, block in enumerate(_chunks(content, CHUNK_SIZE)):
                    check.update(block)
                    write(digest, seq, block)
                    size += len(block)
            if check.hexdigest() != digest:
                # The content changed between hashing and storing: store nothing.
                raise ValueError("The file's content changed while it was being stored.")
            actor = current_audit_context().actor
            StoredFile(
                sha256=digest,
                size=size,
                chunk_size=CHUNK_SIZE,
                created_by=actor if getattr(actor, "pk", None) else None,
            ).save()
        return name

    def _open(self, name, mode="rb"):
        if "w" in mode or "a" in mode or "+" in mode:
            raise ValueError("Stored files are read-only: store a new file instead.")
        record = self._record(name)
        if record is None:
            raise FileNotFoundError(f"No stored file {name!r}.")
        return DatabaseFile(record, name)

    def size(self, name):
        record = self._record(name)
        if record is None:
            raise FileNotFoundError(f"No stored file {name!r}.")
        return record.size

    def get_created_time(self, name):
        record = self._record(name)
        if record is None:
            raise FileNotFoundError(f"No stored file {name!r}.")
        return record.created_at

    get_modified_time = get_created_time

    def listdir(self, path):
        raise NotImplementedError("Stored files are found through the records that refer to them.")

    def url(self, name):
        raise NotImplementedError("Stored files are served by the download views, which check permissions.")


class DatabaseFile(File):
    """A stored file opened for reading: each read fetches the chunks it needs,
    one query per chunk, so no more than one chunk is held at a time."""

    def __init__(self, record, name):
        self.record = record
        self.name = name
        self.mode = "rb"
        self._position = 0
        self._chunk_seq = None
        self._chunk = b""
        self._closed = False

    # File's own attribute is the underlying object; there is none here.
    @property
    def file(self):
        return self

    @property
    def size(self):
        return self.record.size

    @property
    def closed(self):
        return self._closed

    def close(self):
        self._closed = True
        self._chunk = b""

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self._position

    def seek(self, offset, whence=0):
        if whence == 0:
            position = offset
        elif whence == 1:
            position = self._position + offset
        elif whence == 2:
            position = self.record.size + offset
        else:
            raise ValueError(f"whence {whence} is not 0, 1 or 2")
        if position < 0:
            raise ValueError("negative seek position")
        self._position = position
        return position

    def _load(self, seq):
        from .models import StoredFileChunk

        if self._chunk_seq != seq:
            data = (
                StoredFileChunk.objects.filter(file_id=self.record.sha256, seq=seq)
                .values_list("data", flat=True)
                .first()
            )
            self._chunk = bytes(data) if data is not None else b""
            self._chunk_seq = seq
        return self._chunk

    def read(self, size=-1):
        if self._closed:
            raise ValueError("I/O operation on closed file.")
        end = self.record.size if size is None or size < 0 else min(self.record.size, self._position + size)
        parts = []
        chunk_size = self.record.chunk_size
        while self._position < end:
            seq, offset = divmod(self._position, chunk_size)
            chunk = self._load(seq)
            if offset >= len(chunk):
                break  # fewer bytes stored than recorded: the hash check reports it
            part = chunk[offset : offset + (end - self._position)]
            parts.append(part)
            self._position += len(part)
        return b"".join(parts)

    def chunks(self, chunk_size=None):
        self.seek(0)
        while block := self.read(chunk_size or self.DEFAULT_CHUNK_SIZE):
            yield block

    def __iter__(self):
        return self.chunks()


def _s3_base():
    from storages.backends.s3 import S3Storage

    return S3Storage


try:
    _S3Storage = _s3_base()
except ImportError:  # django-storages[s3] is in requirements.txt; without it only the S3 option is missing
    _S3Storage = None


if _S3Storage is not None:

    @deconstructible(path="storage.backends.ContentAddressedS3Storage")
    class ContentAddressedS3Storage(ContentAddressedMixin, _S3Storage):
        """S3-compatible object storage (django-storages), addressed by content.
        Objects are private; the download views read them and check their hash,
        so no signed URL is ever handed out."""

        def url(self, name, *args, **kwargs):
            raise NotImplementedError("Stored files are served by the download views, which check permissions.")
