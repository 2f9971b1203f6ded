"""Benchmark of the agreements import (prints figures; not a test).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<scratch database> \\
        .venv/bin/python tests/plans/bench_import.py

Run it against a migrated scratch database without seed_demo, never against real data. It times
reading a spreadsheet of the largest size allowed (1,000 rows, XLSX and CSV),
the dry run's checks of those rows, and an import of one agreement for each of
the 15 municipalities (2019–2022) in a transaction that is rolled back.
"""

import csv
import io
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django  # noqa: E402

django.setup()

import openpyxl  # noqa: E402
from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.db import transaction  # noqa: E402

from accounts.models import Organisation, Role, User  # noqa: E402
from accounts.services import membership_create, user_create  # noqa: E402
from cases.agreements import imports  # noqa: E402
from workflows.services import agreements_import  # noqa: E402 (the import with its processes)

CODES = list(
    Organisation.objects.filter(kind=Organisation.Kind.MUNICIPALITY)
    .order_by("kommunkod")
    .values_list("kommunkod", flat=True)
)


def rows(n):
    values = dict(zip(imports.HEADERS, imports.EXAMPLE_ROW, strict=True))
    for i in range(n):
        yield [
            {**values, "kommunkod": CODES[i % len(CODES)], "diarienummer": f"RD 2019/{9000 + i}", "titel": ""}[h]
            for h in imports.HEADERS
        ]


def xlsx(n):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(imports.HEADERS)
    for row in rows(n):
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return SimpleUploadedFile("bench.xlsx", buffer.getvalue())


def csv_file(n):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow(imports.HEADERS)
    writer.writerows(rows(n))
    return SimpleUploadedFile("bench.csv", buffer.getvalue().encode())


def timed(label, function):
    start = time.perf_counter()
    result = function()
    print(f"{label:58} {1000 * (time.perf_counter() - start):8.0f} ms")
    return result


def main():
    for make, kind in ((xlsx, "XLSX"), (csv_file, "CSV")):
        upload = make(imports.MAX_IMPORT_ROWS)
        print(f"{kind} file of {imports.MAX_IMPORT_ROWS} rows: {upload.size / 1024:.0f} KiB")
        parsed = timed(
            f"  read_spreadsheet ({kind}, {imports.MAX_IMPORT_ROWS} rows)", lambda u=upload: imports.read_spreadsheet(u)
        )
        plans = timed(f"  check_rows, the dry run ({len(parsed)} rows)", lambda p=parsed: imports.check_rows(p))
        print(f"  rows without errors: {sum(1 for p in plans if not p.errors)}")
    fifteen = imports.read_spreadsheet(csv_file(len(CODES)))
    with transaction.atomic():
        region = Organisation.objects.get(kind=Organisation.Kind.REGION)
        user = user_create(actor=None, email="bench-import@example.se", full_name="Bench")
        membership_create(actor=None, user=user, organisation=region, role=Role.COORDINATOR)
        user = User.objects.get(pk=user.pk)
        created = timed(
            f"agreements_import of {len(fifteen)} agreements (rolled back)",
            lambda: agreements_import(actor=user, file_name="bench.csv", rows=fifteen),
        )
        print(f"  created: {len(created)}")
        transaction.set_rollback(True)


if __name__ == "__main__":
    main()
