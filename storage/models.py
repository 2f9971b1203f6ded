"""Files kept in the database, addressed by the SHA-256 of their bytes.

``StoredFile`` is one file's record: its hash (its address), size, when and
by whom it was first stored. ``StoredFileChunk`` holds its bytes in order, in
chunks of ``CHUNK_SIZE`` (one row each, so that neither a write nor a read
ever holds a whole file in memory). Both are append-only audit records
(``AppendOnlyModel``: the database refuses UPDATE, DELETE and TRUNCATE): a
file is stored once per content and never changed or removed. The file
records are hash-chained like every audit record; the chunks are not (their
bytes are checked against the file's own SHA-256 on every download, and
chaining megabytes of bytes through ``to_jsonb`` would cost more than it
tells).

``FileIntegrityEvent`` records a download that was refused because the bytes
no longer matched their hash (or were gone). It is a source of the audit log
(it has ``at`` and ``user``), so an auditor sees it among every other change.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.audited_models import AppendOnlyModel

# 1 MiB: measured against 256 KiB and 4 MiB chunks and against PostgreSQL's
# large objects (README › Operations › Files); see bench/storage.py.
CHUNK_SIZE = 1024 * 1024


class StoredFile(AppendOnlyModel):
    """One stored content, once. Its name in the storage is ``sha256/<hex>``."""

    sha256 = models.CharField(_("SHA-256"), max_length=64, unique=True)
    size = models.PositiveBigIntegerField(_("size in bytes"))
    chunk_size = models.PositiveIntegerField(_("chunk size"))
    created_at = models.DateTimeField(_("stored"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("stored by"),
    )

    class Meta:
        verbose_name = _("stored file")
        verbose_name_plural = _("stored files")

    def __str__(self):
        return f"sha256/{self.sha256} ({self.size} bytes)"


class StoredFileChunk(AppendOnlyModel):
    """Bytes ``seq * chunk_size`` onwards of a stored file."""

    chain_hash = None  # append-only, not chained (see the module's docstring)
    audit_unchained_because = "its bytes are checked against their file's SHA-256 (every download, verify_files)"

    file = models.ForeignKey(
        StoredFile, on_delete=models.PROTECT, to_field="sha256", db_column="sha256", related_name="chunks"
    )
    seq = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        verbose_name = _("stored file chunk")
        verbose_name_plural = _("stored file chunks")
        constraints = [models.UniqueConstraint(fields=["file", "seq"], name="one_chunk_per_position")]

    def __str__(self):
        return f"{self.file_id}[{self.seq}]"


class FileIntegrityEvent(AppendOnlyModel):
    """A download refused because the stored bytes did not match their hash."""

    class Kind(models.TextChoices):
        MISMATCH = "mismatch", _("Stored bytes do not match their hash")
        MISSING = "missing", _("Stored file is missing")

    kind = models.CharField(_("event"), max_length=10, choices=Kind.choices)
    name = models.CharField(_("stored name"), max_length=255)
    expected_sha256 = models.CharField(_("expected SHA-256"), max_length=64)
    found_sha256 = models.CharField(_("SHA-256 found"), max_length=64, blank=True)
    # What the file belongs to, e.g. "cases.attachment" and its id.
    object_label = models.CharField(_("belongs to"), max_length=100)
    object_id = models.CharField(_("object id"), max_length=64)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
    )
    ip = models.GenericIPAddressField(_("client address"), null=True, blank=True)
    at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("refused file download")
        verbose_name_plural = _("refused file downloads")
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.name} ({self.object_label} {self.object_id})"
