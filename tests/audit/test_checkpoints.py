"""Checkpoints signed outside the database: verify_audit checks their
signatures with the public key alone, and that every signed head is still in
its chain, so that what a role above the application could still do (cut rows
off the end of a chain, recompute a chain after a change, remove a
checkpoint) is caught without anyone keeping --heads files by hand."""

import base64
import json
import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from cases.audit import checkpoints
from cases.audit.models import AuditCheckpoint
from cases.audit.tables import chains

from .conftest import as_role, run_sql, verify

pytestmark = pytest.mark.django_db

HISTORY = "cases_historicalagreement"


@pytest.fixture
def keys(settings, tmp_path):
    """A signing key in a file, and verification with its public key only."""
    path = tmp_path / "signing.pem"
    key = checkpoints.generate_key(path)
    settings.AUDIT_SIGNING_KEY_FILE = str(path)
    settings.AUDIT_SIGNING_KEY = ""
    settings.AUDIT_VERIFY_KEY_FILE = ""
    settings.AUDIT_VERIFY_KEYS = checkpoints.public_key_text(key.public_key())
    return key


def auditor_only(settings, key):
    """What an auditor has: the public key, no private key."""
    settings.AUDIT_SIGNING_KEY_FILE = ""
    settings.AUDIT_VERIFY_KEYS = checkpoints.public_key_text(key.public_key())


def last_id(table=HISTORY):
    return run_sql(f"SELECT max(history_id) FROM {table}")[0][0]


def without_triggers(table, statement, params=None):
    """What a table owner or superuser can do: switch the protection off for a statement."""
    run_sql("SET CONSTRAINTS ALL IMMEDIATE")
    run_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
    run_sql(statement, params)
    run_sql(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def test_a_checkpoint_signs_the_head_of_every_chain(agreement, keys, settings):
    checkpoint = checkpoints.sign_checkpoint()
    message = json.loads(checkpoint.message)
    expected = {
        t.table
        for t in chains()
        if t.table != "audit_auditcheckpoint" and run_sql(f'SELECT count(*) FROM "{t.table}"')[0][0]
    }
    assert set(message["heads"]) == expected
    assert message["heads"][HISTORY] == [last_id(), agreement.history.latest("history_id").history_hash]
    assert message["previous"] is None
    keys.public_key().verify(bytes.fromhex(checkpoint.signature), checkpoint.message.encode())
    assert len(checkpoint.chain_hash) == 64  # stored append-only and chained like every audit record

    auditor_only(settings, keys)
    code, out, err = verify()
    assert code == 0, err
    assert f"ok checkpoints: 1 signed, the last #{checkpoint.pk} of" in out
    assert "not yet checkpointed" not in out

    agreement.title = "Efter kontrollpunkten"
    agreement.save()
    code, out, _err = verify()
    assert code == 0
    assert f"not yet checkpointed {HISTORY}: 1 rows" in out

    second = checkpoints.sign_checkpoint(key=keys)
    assert json.loads(second.message)["previous"] == checkpoint.signature
    assert "not yet checkpointed" not in verify()[1]


def test_the_application_role_may_sign(agreement, keys, database_roles):
    """The signer runs with the application's database role (cron, the worker): it needs no more."""
    with as_role(database_roles.app):
        checkpoint = checkpoints.sign_checkpoint()
    assert AuditCheckpoint.objects.get(pk=checkpoint.pk).signature == checkpoint.signature
    assert verify()[0] == 0


def test_rows_cut_off_the_end_are_caught(agreement, keys):
    checkpoints.sign_checkpoint()
    last = last_id()
    without_triggers(HISTORY, f"DELETE FROM {HISTORY} WHERE history_id = %s", [last])
    code, _out, err = verify("--no-live")  # the chain alone is consistent; the checkpoint is not
    assert code == 1
    assert "BROKEN" not in err
    assert f"signed head {HISTORY} history_id={last} is no longer in the chain (rows were removed)" in err


def test_a_rechained_table_is_caught(agreement, keys):
    """A row changed and the whole chain recomputed from the start: every
    hash matches again, but not the signed head."""
    checkpoints.sign_checkpoint()
    first = run_sql(f"SELECT min(history_id) FROM {HISTORY}")[0][0]
    without_triggers(
        HISTORY, f"UPDATE {HISTORY} SET title = 'Ett annat avtal', history_hash = '' WHERE history_id = %s", [first]
    )
    without_triggers(HISTORY, f"UPDATE {HISTORY} SET history_hash = ''")
    without_triggers(HISTORY, f"SELECT samverkan_audit_seal('{HISTORY}'::regclass, 'history_id', 'history_hash')")
    code, _out, err = verify("--no-live")
    assert code == 1
    assert "BROKEN" not in err  # re-chained: consistent in itself
    assert f"signed head {HISTORY} history_id={last_id()} has another hash now (the chain was rewritten)" in err


def test_a_forged_checkpoint_is_caught(agreement, keys, database_roles):
    """The application role can insert into the checkpoint table, but it has
    no key: a checkpoint signed with any other key does not verify."""
    genuine = checkpoints.sign_checkpoint()
    other = Ed25519PrivateKey.generate()
    message = checkpoints.canonical({"heads": {}, "previous": genuine.signature, "signed_at": "x", "version": 1})
    insert = (
        "INSERT INTO audit_auditcheckpoint (chain_hash, at, message, signature, key_id) VALUES ('', now(), %s, %s, %s)"
    )
    with as_role(database_roles.app):
        run_sql(insert, [message, other.sign(message.encode()).hex(), checkpoints.key_id(keys.public_key())])
        run_sql(insert, [message, other.sign(message.encode()).hex(), checkpoints.key_id(other.public_key())])
    forged, unknown = AuditCheckpoint.objects.order_by("id")[1:]
    code, _out, err = verify()
    assert code == 1
    assert f"CHECKPOINT checkpoint #{forged.pk}: the signature does not verify" in err
    assert f"CHECKPOINT checkpoint #{unknown.pk}: signed with key {checkpoints.key_id(other.public_key())}" in err


def test_removed_checkpoints_are_caught(agreement, keys, tmp_path):
    for _ in range(3):
        checkpoints.sign_checkpoint()
    exported = tmp_path / "checkpoints.jsonl"
    call_command("audit_checkpoint", "--export", stdout=exported.open("w"))
    assert verify("--checkpoints", str(exported))[0] == 0
    first, middle, last = AuditCheckpoint.objects.order_by("id")

    # The last one: the chain of checkpoints is consistent without it; the export is not.
    without_triggers("audit_auditcheckpoint", "DELETE FROM audit_auditcheckpoint WHERE id = %s", [last.pk])
    assert verify()[0] == 0
    code, _out, err = verify("--checkpoints", str(exported))
    assert code == 1
    assert f"CHECKPOINT exported checkpoint #{last.pk}: is no longer in the database" in err

    # One in the middle: the next one names its signature.
    without_triggers("audit_auditcheckpoint", "DELETE FROM audit_auditcheckpoint WHERE id = %s", [first.pk])
    code, _out, err = verify()
    assert code == 1
    assert f"CHECKPOINT checkpoint #{middle.pk}: does not follow the checkpoint before it" in err


def test_checkpoints_cannot_pass_without_a_public_key(agreement, keys, settings):
    checkpoints.sign_checkpoint()
    settings.AUDIT_SIGNING_KEY_FILE = ""
    settings.AUDIT_VERIFY_KEYS = ""
    code, _out, err = verify()
    assert code == 1
    assert "1 checkpoints cannot be verified: no public key is configured" in err


def test_a_change_of_key_keeps_old_checkpoints_verifiable(agreement, keys, settings, tmp_path):
    old = checkpoints.sign_checkpoint()
    new_key = Ed25519PrivateKey.generate()
    settings.AUDIT_SIGNING_KEY_FILE = ""
    settings.AUDIT_SIGNING_KEY = base64.b64encode(
        new_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    ).decode()
    new = checkpoints.sign_checkpoint()
    assert (old.key_id, new.key_id) == (checkpoints.key_id(keys.public_key()), checkpoints.key_id(new_key.public_key()))
    # The auditor lists both public keys, as PEM in a file.
    path = tmp_path / "verify.pem"
    path.write_bytes(
        b"".join(
            k.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            for k in (keys, new_key)
        )
    )
    settings.AUDIT_SIGNING_KEY = ""
    settings.AUDIT_VERIFY_KEYS = ""
    settings.AUDIT_VERIFY_KEY_FILE = str(path)
    code, out, err = verify()
    assert code == 0, err
    assert "ok checkpoints: 2 signed" in out


def test_bad_key_settings_say_which_setting(settings):
    settings.AUDIT_SIGNING_KEY = "not a key"
    with pytest.raises(ImproperlyConfigured, match="AUDIT_SIGNING_KEY is not an Ed25519 private key"):
        checkpoints.signing_key()
    settings.AUDIT_SIGNING_KEY = ""
    settings.AUDIT_VERIFY_KEYS = "bm90IGEga2V5"
    with pytest.raises(ImproperlyConfigured, match="AUDIT_VERIFY_KEYS"):
        checkpoints.verify_keys()
    settings.AUDIT_SIGNING_KEY_FILE = "/nonexistent/key.pem"
    with pytest.raises(ImproperlyConfigured, match="AUDIT_SIGNING_KEY_FILE: cannot read /nonexistent/key.pem"):
        checkpoints.signing_key()


def test_the_command_generates_a_key_signs_appends_and_exports(agreement, settings, tmp_path, capsys):
    key_file = tmp_path / "audit.pem"
    call_command("audit_checkpoint", "--generate-key", str(key_file))
    public = capsys.readouterr().out.strip()
    assert oct(os.stat(key_file).st_mode & 0o777) == "0o600"
    settings.AUDIT_SIGNING_KEY_FILE = str(key_file)
    appended = tmp_path / "checkpoints.jsonl"
    call_command("audit_checkpoint", "--append", str(appended))
    call_command("audit_checkpoint", "--append", str(appended))
    lines = appended.read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == list(
        AuditCheckpoint.objects.order_by("id").values_list("id", flat=True)
    )
    call_command("audit_checkpoint", "--export")
    assert capsys.readouterr().out.splitlines()[-2:] == lines
    # An auditor with the public key alone:
    settings.AUDIT_SIGNING_KEY_FILE = ""
    settings.AUDIT_VERIFY_KEYS = public
    code, out, err = verify("--checkpoints", str(appended))
    assert code == 0, err
    assert "ok checkpoints: 2 signed" in out
