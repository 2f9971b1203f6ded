"""Benchmark of the audit log at a million rows (prints figures; not a test).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<scratch database> \\
        .venv/bin/python tests/audit_ui/bench_log.py [--rows 1000000] [--no-load]

Run it against a scratch database that has been migrated and seeded
(``manage.py migrate && manage.py seed_demo``), never against real data: it
adds rows to the history tables (through their insert triggers, so they are
chained like any other row). It then times pages of the log (first, deep,
filtered) and a full export, and reports the export's peak Python memory.
"""

import argparse
import datetime
import os
import resource
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from accounts.models import Organisation, User  # noqa: E402
from cases.audit import export, log  # noqa: E402
from cases.audit.models import AuditExport  # noqa: E402

# table -> share of the generated rows. Each is filled by copying its own rows
# (the demo's) with new dates spread over the plan period.
SHARES = {
    "cases_historicalagreement": 0.2,
    "cases_historicalcollaborationarea": 0.3,
    "workflows_historicaltaskdeadline": 0.15,
    "cases_historicaldecision": 0.05,
    "cases_historicalsignature": 0.05,
    "accounts_historicalmembership": 0.05,
    "accounts_signinevent": 0.2,
}
DATE = "timestamptz '2023-01-01 00:00+00' + random() * interval '4 years'"


def columns(table):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
            [table],
        )
        return [row[0] for row in cursor.fetchall()]


def load(total):
    for table, share in SHARES.items():
        wanted = int(total * share)
        started = time.perf_counter()
        with connection.cursor() as cursor:
            if table == "accounts_signinevent":
                cursor.execute(
                    "INSERT INTO accounts_signinevent (kind, user_id, email, ip, user_agent, at, chain_hash) "
                    f"SELECT 'login', (SELECT min(id) FROM accounts_user) + (g %% 5), 'x@example.se', '10.0.0.1', "  # noqa: S608
                    f"'bench', {DATE}, '' FROM generate_series(1, %s) g",
                    [wanted],
                )
            else:
                cols = [c for c in columns(table) if c not in ("history_id", "history_hash")]
                source = ", ".join(DATE if c == "history_date" else f"src.{c}" for c in cols)
                cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608
                have = cursor.fetchone()[0]
                copies = max(1, wanted // max(have, 1))
                cursor.execute(
                    f"INSERT INTO {table} ({', '.join(cols)}, history_hash) "  # noqa: S608
                    f"SELECT {source}, '' FROM {table} src CROSS JOIN generate_series(1, %s)",
                    [copies],
                )
            print(f"  {table}: +{cursor.rowcount} rows in {time.perf_counter() - started:.1f} s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def count_rows():
    with connection.cursor() as cursor:
        total = 0
        for src in log.sources():
            cursor.execute(f"SELECT count(*) FROM {src.table}")  # noqa: S608
            total += cursor.fetchone()[0]
        return total


def timed(label, function, repeat=3):
    best = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        elapsed = time.perf_counter() - started
        best = elapsed if best is None else min(best, elapsed)
    print(f"  {label}: {best * 1000:.1f} ms", flush=True)
    return result


def bench_pages():
    mora = Organisation.objects.get(name="Mora")
    user = User.objects.order_by("pk").first()
    everything = log.LogFilters()
    first = timed("first page, no filter", lambda: log.page(everything))

    def deep():
        cursor = None
        for _ in range(200):  # the 200th page: 10,000 rows in
            cursor = log.page(everything, after=cursor).next_cursor
        return cursor

    started = time.perf_counter()
    deep()
    print(f"  200 pages one after the other: {(time.perf_counter() - started) * 1000:.0f} ms in all", flush=True)
    cursor = first.next_cursor
    timed("a next page (keyset)", lambda: log.page(everything, after=cursor))
    cases = {
        "municipality Mora": log.LogFilters(municipality_id=mora.pk),
        "one user": log.LogFilters(user_id=user.pk),
        "kind = decisions": log.LogFilters(kinds=("cases.decision",)),
        "date range (one week)": log.LogFilters(
            since=datetime.datetime(2024, 5, 6, tzinfo=datetime.UTC),
            until=datetime.datetime(2024, 5, 13, tzinfo=datetime.UTC),
        ),
        "Mora + one user + a year": log.LogFilters(
            municipality_id=mora.pk,
            user_id=user.pk,
            since=datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
            until=datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC),
        ),
    }
    for label, filters in cases.items():
        page = timed(f"first page, {label}", lambda f=filters: log.page(f))
        if page.next_cursor:
            timed(f"next page, {label}", lambda f=filters, c=page.next_cursor: log.page(f, after=c))


def bench_export(fmt, *, traced=False, limit=None):
    """Export everything (or the first ``limit`` rows). With ``traced``, the
    peak of Python's allocations is measured too (tracemalloc slows it down)."""
    actor = User.objects.order_by("pk").first()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    size = rows = 0
    stream = export.stream_export(filters=log.LogFilters(), fmt=fmt, actor=actor)
    for chunk in stream:
        size += len(chunk)
        rows += chunk.count(b"\n")
        if limit and rows >= limit:
            stream.close()  # the download breaks off
            break
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if traced else None
    if traced:
        tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    recorded = AuditExport.objects.order_by("-id").first()
    print(
        f"  {fmt} export: {size / 1e6:.0f} MB, {rows:,} lines in {elapsed:.1f} s ({rows / elapsed:,.0f} lines/s); "
        + (f"peak Python allocations {peak / 1e6:.1f} MB; " if traced else "")
        + f"max RSS {rss_before / 1024:.0f} -> {rss_after / 1024:.0f} MB; "
        f"recorded: {recorded.row_count:,} rows, complete={recorded.complete}",
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-load", action="store_true")
    parser.add_argument("--no-export", action="store_true")
    args = parser.parse_args()
    if not args.no_load:
        print(f"Loading about {args.rows:,} rows:", flush=True)
        load(args.rows)
    print(f"{count_rows():,} rows in the log.", flush=True)
    print("Pages of 50:", flush=True)
    bench_pages()
    if not args.no_export:
        print("Export:", flush=True)
        bench_export("csv", traced=True, limit=20_000)
        bench_export("jsonl")
        bench_export("csv")


if __name__ == "__main__":
    main()
