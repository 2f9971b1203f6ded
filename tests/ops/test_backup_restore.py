"""Backup → restore → verify, on the demo data with documents, as README ›
Operations › Backups says to do it: deploy/backup.sh (pg_dump, custom format)
of a database seeded with seed_demo and a few attached documents, then
deploy/restore.sh into a fresh database, which runs verify_audit (every
chain intact) and verify_files (every file matches its hash). The restored
database then shows users the same agreement pages, timelines and documents,
byte for byte, and holds the same rows."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent.parent
pytestmark = pytest.mark.slow


def database_url(name):
    db = settings.DATABASES["default"]
    user = db["USER"] or "postgres"
    return f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


def recreate(name):
    with psycopg.connect(database_url("postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def drop(name):
    with psycopg.connect(database_url("postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(args, url, **extra):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": url,
        "PYTHON": sys.executable,
        **extra,
    }
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (args, result.stdout[-3000:], result.stderr[-3000:])
    return result.stdout


def manage(url, *args):
    return run([sys.executable, "manage.py", *args], url)


def snapshot(url):
    return json.loads(run([sys.executable, "tests/ops/backup_snapshot.py", "snapshot"], url).splitlines()[-1])


def chains(verify_output):
    return dict(re.findall(r"^ok (\S+): (\d+) rows", verify_output, re.MULTILINE))


def test_backup_restore_verify_on_the_demo_data(tmp_path):
    base = settings.DATABASES["default"]["NAME"].removeprefix("test_")
    source_name, restored_name = f"test_{base}_backup_source", f"test_{base}_backup_restored"
    source, restored = database_url(source_name), database_url(restored_name)
    recreate(source_name)
    recreate(restored_name)
    try:
        manage(source, "migrate", "--noinput", "--verbosity", "0")
        manage(source, "seed_demo")
        run([sys.executable, "tests/ops/backup_snapshot.py", "add-files"], source)
        source_chains = chains(manage(source, "verify_audit"))

        backup = run(["deploy/backup.sh", str(tmp_path)], source)
        dumps = sorted(tmp_path.glob("samverkan-*.dump"))
        assert len(dumps) == 1 and f"backup written: {dumps[0]}" in backup
        assert (tmp_path / f"{dumps[0].name}.sha256").exists()
        before = snapshot(source)  # after the dump: reading signs two users in, which writes history
        # the three files added, and the demo's frozen decision material (#12), one file each
        documents = before["rows"]["cases_agreementdocument"]
        assert documents >= 1 and before["rows"]["storage_storedfile"] == 3 + documents
        assert before["rows"]["cases_agreement"] >= 6

        restore = run(["deploy/restore.sh", str(dumps[0]), restored], restored)
        # restore.sh exits non-zero unless verify_audit and verify_files pass; only the exit code and the
        # "ok <table>: N rows" lines of verify_audit are read (its signed checkpoints may add more).
        assert chains(restore) == source_chains and len(source_chains) >= 15
        assert "stored files checked" in restore and "0 problems" in restore

        after = snapshot(restored)
        assert after["pages"] == before["pages"]
        differing = {t: (n, after["rows"].get(t)) for t, n in before["rows"].items() if after["rows"].get(t) != n}
        assert not differing and after["rows"] == before["rows"]
    finally:
        drop(source_name)
        drop(restored_name)
