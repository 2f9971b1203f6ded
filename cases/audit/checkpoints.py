"""Checkpoints: the heads of every hash chain, signed outside the database.

A hash chain shows any change to a row *inside* it, but not rows cut off its
end, and not a chain that someone above the application (a table owner, a
superuser) recomputed from the start after changing a row. A checkpoint fixes
the chains at one moment: the id and hash of each chain's last row, signed
with an Ed25519 key that only the signer holds (a file or an environment
variable of the process that signs; never the database). ``verify_audit``
checks with the public key alone that

- every checkpoint's signature is valid, made by a configured key;
- the checkpoints follow one another (each names the previous one's
  signature, so a removed or inserted checkpoint breaks the sequence);
- every signed head is still in its chain with the same hash (a truncated,
  rewritten or re-chained table no longer has it);

and reports, per chain, the rows written since the last checkpoint as "not
yet checkpointed". Checkpoints are stored append-only and chained like every
audit record (``AuditCheckpoint``), and exported as JSON lines
(``audit_checkpoint --export`` or ``--append FILE`` at each signing): kept
outside the database, the export also catches the removal of the latest
checkpoints (``verify_audit --checkpoints FILE``).

Signing: ``sign_checkpoint()`` (the ``audit_checkpoint`` command, from cron
or the background worker's scheduler, and on demand). Keys
(config/settings/base.py, README › The audit trail):

``AUDIT_SIGNING_KEY_FILE`` / ``AUDIT_SIGNING_KEY``
    the private key: a PEM file (PKCS#8), or the PEM text or the 32-byte raw
    key in base64 in the environment. Only the signer needs it.
``AUDIT_VERIFY_KEY_FILE`` / ``AUDIT_VERIFY_KEYS``
    the public key(s) verification trusts: a file of PEM public keys, or
    base64 raw keys separated by commas. The public half of a configured
    signing key is trusted too. Several keys: the old ones after a change of
    key, so that older checkpoints still verify.

On SQLite (the ``make run`` demo) there are no chains, and signing does nothing.
"""

import base64
import datetime
import hashlib
import json
import logging
import os
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, transaction

from . import sql
from .models import AuditCheckpoint
from .tables import chains, describe

logger = logging.getLogger(__name__)

VERSION = 1


# ---------------------------------------------------------------------------
# Keys
# ---------------------------------------------------------------------------


def _raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short name of a public key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(_raw_public(public_key)).hexdigest()[:16]


def public_key_text(public_key: Ed25519PublicKey) -> str:
    """The public key as base64 of its 32 raw bytes (AUDIT_VERIFY_KEYS takes this)."""
    return base64.b64encode(_raw_public(public_key)).decode()


def _private_key_from(text: str) -> Ed25519PrivateKey:
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode(), password=None)
    else:
        key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(text, validate=True))
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 private key")
    return key


def _public_keys_from(text: str) -> list[Ed25519PublicKey]:
    keys = []
    if "-----BEGIN" in text:
        blocks = text.split("-----END PUBLIC KEY-----")
        for block in blocks:
            if "-----BEGIN PUBLIC KEY-----" in block:
                pem = block[block.index("-----BEGIN PUBLIC KEY-----") :] + "-----END PUBLIC KEY-----\n"
                key = serialization.load_pem_public_key(pem.encode())
                if not isinstance(key, Ed25519PublicKey):
                    raise ValueError("not an Ed25519 public key")
                keys.append(key)
    else:
        for part in text.replace("\n", ",").split(","):
            if part.strip():
                keys.append(Ed25519PublicKey.from_public_bytes(base64.b64decode(part.strip(), validate=True)))
    return keys


def _read(path, setting):
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as error:
        raise ImproperlyConfigured(f"{setting}: cannot read {path}: {error}") from error


def signing_key() -> Ed25519PrivateKey | None:
    """The private key from AUDIT_SIGNING_KEY_FILE or AUDIT_SIGNING_KEY; None if neither is set."""
    path = getattr(settings, "AUDIT_SIGNING_KEY_FILE", "")
    text = _read(path, "AUDIT_SIGNING_KEY_FILE") if path else getattr(settings, "AUDIT_SIGNING_KEY", "")
    if not text:
        return None
    try:
        return _private_key_from(text)
    except (ValueError, TypeError) as error:
        name = "AUDIT_SIGNING_KEY_FILE" if path else "AUDIT_SIGNING_KEY"
        raise ImproperlyConfigured(f"{name} is not an Ed25519 private key (PEM or base64): {error}") from error


def verify_keys() -> dict:
    """{key id: public key} of every key verification trusts."""
    keys = []
    path = getattr(settings, "AUDIT_VERIFY_KEY_FILE", "")
    for name, text in (
        ("AUDIT_VERIFY_KEY_FILE", _read(path, "AUDIT_VERIFY_KEY_FILE") if path else ""),
        ("AUDIT_VERIFY_KEYS", getattr(settings, "AUDIT_VERIFY_KEYS", "")),
    ):
        try:
            keys += _public_keys_from(text) if text else []
        except (ValueError, TypeError) as error:
            raise ImproperlyConfigured(f"{name} holds something that is not an Ed25519 public key: {error}") from error
    private = signing_key()
    if private is not None:
        keys.append(private.public_key())
    return {key_id(key): key for key in keys}


def generate_key(path) -> Ed25519PrivateKey:
    """A new private key, written to ``path`` as PEM, readable by its owner only."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    return key


# ---------------------------------------------------------------------------
# Signing
# ---------------------------------------------------------------------------


def canonical(data) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _checkpoint_table():
    return describe(AuditCheckpoint)


def sign_checkpoint(*, using="default", key: Ed25519PrivateKey | None = None) -> AuditCheckpoint | None:
    """Sign the heads of every hash chain and store the checkpoint. ``key``
    defaults to the configured signing key (ImproperlyConfigured if there is
    none). Returns the stored checkpoint; None on a database without chains
    (SQLite). Safe to run from several places at once: checkpoints are
    written one after the other."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        logger.info("Audit checkpoint skipped: %s has no hash chains.", connection.vendor)
        return None
    key = key or signing_key()
    if key is None:
        raise ImproperlyConfigured("No signing key: set AUDIT_SIGNING_KEY_FILE or AUDIT_SIGNING_KEY.")
    own = _checkpoint_table()
    with transaction.atomic(using=using), connection.cursor() as cursor, sql.fixed_search_path(cursor) as schema:
        # The chain lock of the checkpoints (the insert takes it too): "previous" cannot change under us.
        cursor.execute(
            f"SELECT {sql.ident(schema)}.samverkan_audit_lock(%s::regclass)", [sql.qualified(schema, own.table)]
        )
        heads = {}
        for table in chains():
            if table.table == own.table:
                continue
            cursor.execute(sql.head_sql(table.table, table.id_column, table.hash_column, schema=schema))
            head = cursor.fetchone()
            if head is not None:
                heads[table.table] = [head[0], head[1]]
        previous = AuditCheckpoint.objects.using(using).order_by("-id").values_list("signature", flat=True).first()
        message = canonical(
            {
                "heads": heads,
                "previous": previous,
                "signed_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                "version": VERSION,
            }
        )
        checkpoint = AuditCheckpoint(
            message=message, signature=key.sign(message.encode()).hex(), key_id=key_id(key.public_key())
        )
        checkpoint.save(using=using)
    checkpoint.refresh_from_db(using=using)  # the database set its time and hash
    return checkpoint


def export_line(checkpoint) -> str:
    """One checkpoint as a JSON line (what ``--export`` and ``--append`` write)."""
    return canonical(
        {
            "id": checkpoint.pk,
            "at": checkpoint.at.astimezone(datetime.UTC).isoformat(),
            "key_id": checkpoint.key_id,
            "message": checkpoint.message,
            "signature": checkpoint.signature,
        }
    )


def parse_export(lines):
    """[{id, key_id, message, signature}] from exported JSON lines (ValueError on a bad line)."""
    found = []
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            data = json.loads(line)
            found.append(
                {
                    "id": int(data["id"]),
                    "key_id": str(data["key_id"]),
                    "message": str(data["message"]),
                    "signature": str(data["signature"]),
                }
            )
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"line {number} is not an exported checkpoint: {error}") from error
    return found


# ---------------------------------------------------------------------------
# Verifying
# ---------------------------------------------------------------------------


@dataclass
class CheckpointReport:
    checkpoints: int = 0
    last_id: int | None = None
    last_at: datetime.datetime | None = None
    problems: list = field(default_factory=list)
    pending: dict = field(default_factory=dict)  # {table: rows written after the last checkpoint}
    notes: list = field(default_factory=list)


def _signature_problem(keys, row):
    key = keys.get(row["key_id"])
    if key is None:
        return f"signed with key {row['key_id']}, which is not a configured verify key"
    try:
        key.verify(bytes.fromhex(row["signature"]), row["message"].encode())
    except (InvalidSignature, ValueError):
        return "the signature does not verify: the checkpoint was not signed with this key or was changed"
    return None


def _heads(row):
    try:
        data = json.loads(row["message"])
        return data.get("previous"), {table: (int(h[0]), str(h[1])) for table, h in data["heads"].items()}
    except (ValueError, KeyError, TypeError, AttributeError, IndexError):
        return None, None


def _head_problems(cursor, schema, signed, by_table):
    """[problem] for each signed (table, id, hash) that is not in its chain, set-based per table."""
    wanted = {}
    for label, heads in signed:
        for table, (row_id, row_hash) in heads.items():
            wanted.setdefault(table, []).append((label, row_id, row_hash))
    problems = []
    for table_name, items in sorted(wanted.items()):
        table = by_table.get(table_name)
        if table is None:
            problems += [f"{label}: {table_name} is not a hash-chained table" for label, _i, _h in items]
            continue
        t, i, h = sql.qualified(schema, table.table), sql.ident(table.id_column), sql.ident(table.hash_column)
        cursor.execute(
            f"SELECT {i}, {h} FROM {t} WHERE {i} = ANY(%s)",  # noqa: S608 (quoted identifiers)
            [sorted({row_id for _label, row_id, _h in items})],
        )
        found = dict(cursor.fetchall())
        for label, row_id, row_hash in items:
            if row_id not in found:
                problems.append(
                    f"{label}: signed head {table_name} {table.id_column}={row_id} is no longer in the chain "
                    "(rows were removed)"
                )
            elif found[row_id] != row_hash:
                problems.append(
                    f"{label}: signed head {table_name} {table.id_column}={row_id} has another hash now "
                    "(the chain was rewritten)"
                )
    return problems


def check_checkpoints(cursor, schema, exported=None) -> CheckpointReport:
    """Verify the stored checkpoints (and exported ones, if given) against
    the chains, in the caller's transaction and search path."""
    report = CheckpointReport()
    own = _checkpoint_table()
    by_table = {t.table: t for t in chains() if t.table != own.table}
    cursor.execute(
        f"SELECT id, at, key_id, message, signature FROM {sql.qualified(schema, own.table)} ORDER BY id"  # noqa: S608
    )
    rows = [dict(zip(("id", "at", "key_id", "message", "signature"), values, strict=True)) for values in cursor]
    report.checkpoints = len(rows)
    keys = verify_keys()
    if rows and not keys:
        report.problems.append(
            f"{len(rows)} checkpoints cannot be verified: no public key is configured "
            "(AUDIT_VERIFY_KEY_FILE or AUDIT_VERIFY_KEYS)"
        )
        return report
    signed = []
    previous_signature = None
    for row in rows:
        label = f"checkpoint #{row['id']}"
        if problem := _signature_problem(keys, row):
            report.problems.append(f"{label}: {problem}")
        previous, heads = _heads(row)
        if heads is None:
            report.problems.append(f"{label}: its message is not a checkpoint")
            continue
        if previous != previous_signature:
            report.problems.append(f"{label}: does not follow the checkpoint before it (a checkpoint was removed)")
        previous_signature = row["signature"]
        signed.append((label, heads))
    stored = {row["id"]: row["signature"] for row in rows}
    for row in exported or ():
        label = f"exported checkpoint #{row['id']}"
        if problem := _signature_problem(keys, row):
            report.problems.append(f"{label}: {problem}")
        if stored.get(row["id"]) != row["signature"]:
            report.problems.append(f"{label}: is no longer in the database (checkpoints were removed or replaced)")
        _previous, heads = _heads(row)
        if heads is None:
            report.problems.append(f"{label}: its message is not a checkpoint")
        else:
            signed.append((label, heads))
    report.problems += _head_problems(cursor, schema, signed, by_table)

    last_heads = {}
    if rows:
        report.last_id, report.last_at = rows[-1]["id"], rows[-1]["at"]
        last_heads = _heads(rows[-1])[1] or {}
    for table in by_table.values():
        after = last_heads.get(table.table, (0, None))[0]
        cursor.execute(sql.rows_after_sql(table.table, table.id_column, schema=schema), [after])
        pending = cursor.fetchone()[0]
        if pending:
            report.pending[table.table] = pending
    if not rows:
        report.notes.append("no checkpoint yet: run manage.py audit_checkpoint")
    return report


def sign_scheduled_checkpoint() -> AuditCheckpoint | None:
    """The worker's hourly job (settings.BACKGROUND_SCHEDULE): sign a checkpoint
    when this machine has the signing key; without one, do nothing."""
    if signing_key() is None:
        logger.info("Audit checkpoint skipped: no signing key on this machine.")
        return None
    return sign_checkpoint()
