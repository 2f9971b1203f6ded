"""The file storage and the backups, measured: how fast files go into and out
of the PostgreSQL storage, and what stored files add to a backup.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/samverkan_bench_files \\
        .venv/bin/python bench/storage.py [--files 20] [--megabytes 20]

The database must be named *bench* (it is dropped and made again). The files
are random bytes (incompressible, as PDFs, JPEGs and Office files mostly are).
Prints a table; writes nothing else. README › Operations holds the figures.

1. store: ``default_storage.save`` of each file, one transaction each;
2. store again: the same contents (found by hash, nothing written);
3. download: ``storage.integrity.open_verified`` (read in chunks while
   hashing into a spooled copy, then the copy read back: what a download does);
4. backup and restore: deploy/backup.sh and pg_restore of the database holding
   these files, against the same database without them.
"""

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")


def database(url):
    import psycopg

    name = url.rsplit("/", 1)[1]
    if "bench" not in name:
        raise SystemExit(f"The database {name!r} is dropped and made again: its name must contain 'bench'.")
    admin = url.rsplit("/", 1)[0] + "/postgres"
    return name, admin, psycopg


def recreate(admin, psycopg, name):
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def timed(func):
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def dump_and_restore(url, admin, psycopg, name, workdir):
    restored = f"{name}_restored"
    recreate(admin, psycopg, restored)
    env = {**os.environ, "DATABASE_URL": url}
    backup = [str(ROOT / "deploy/backup.sh"), workdir]
    backup_seconds, _ = timed(
        lambda: subprocess.run(backup, cwd=ROOT, env=env, check=True, capture_output=True)  # noqa: S603 (ours)
    )
    dump = sorted(Path(workdir).glob("samverkan-*.dump"))[-1]
    size = dump.stat().st_size
    target = url.rsplit("/", 1)[0] + "/" + restored
    restore = [str(ROOT / "deploy/restore.sh"), str(dump), target]
    restore_env = {**os.environ, "VERIFY": "0"}
    restore_seconds, _ = timed(
        lambda: subprocess.run(restore, cwd=ROOT, env=restore_env, check=True, capture_output=True)  # noqa: S603
    )
    dump.unlink()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)')
    return backup_seconds, restore_seconds, size


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--megabytes", type=int, default=20)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    name, admin, psycopg = database(url)
    recreate(admin, psycopg, name)
    subprocess.run([sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT, check=True)

    import django

    django.setup()
    from django.core.files.storage import default_storage
    from django.db import connection

    from storage.integrity import open_verified

    size = args.megabytes * 1024 * 1024
    total_mb = args.files * size / 1e6
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        empty = dump_and_restore(url, admin, psycopg, name, workdir)
        contents = [os.urandom(size) for _ in range(args.files)]
        seconds, names = timed(lambda: [default_storage.save("x.pdf", io.BytesIO(data)) for data in contents])
        rows.append(("store", seconds, f"{total_mb / seconds:.0f} MB/s"))
        seconds, _ = timed(lambda: [default_storage.save("y.pdf", io.BytesIO(data)) for data in contents])
        rows.append(("store again (found by hash)", seconds, f"{seconds / args.files * 1000:.1f} ms a file"))

        def download():
            for stored in names:
                handle = open_verified(
                    SimpleNamespace(name=stored, storage=default_storage),
                    expected_sha256=stored.removeprefix("sha256/"),
                    about=None,
                )
                while handle.read(65536):
                    pass
                handle.close()

        seconds, _ = timed(download)
        rows.append(("download (verified)", seconds, f"{total_mb / seconds:.0f} MB/s"))
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_total_relation_size('storage_storedfilechunk')")
            table_bytes = cursor.fetchone()[0]
        connection.close()
        full = dump_and_restore(url, admin, psycopg, name, workdir)

    print(f"{args.files} files of {args.megabytes} MB ({total_mb:.0f} MB), random bytes")
    for label, seconds, rate in rows:
        print(f"  {label:30} {seconds:7.2f} s   {rate}")
    print(f"  {'chunk table on disk':30} {table_bytes / 1e6:7.0f} MB")
    print(f"  {'backup.sh, no files':30} {empty[0]:7.2f} s   dump {empty[2] / 1e6:.1f} MB")
    print(f"  {'backup.sh, with the files':30} {full[0]:7.2f} s   dump {full[2] / 1e6:.0f} MB")
    print(f"  {'restore (2 jobs), no files':30} {empty[1]:7.2f} s")
    print(f"  {'restore (2 jobs), with files':30} {full[1]:7.2f} s")
    extra_backup = (full[0] - empty[0]) / total_mb * 1000
    extra_restore = (full[1] - empty[1]) / total_mb * 1000
    print(f"  files add about {extra_backup:.1f} s of backup and {extra_restore:.1f} s of restore per GB")
    with psycopg.connect(admin, autocommit=True) as admin_connection:
        admin_connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
