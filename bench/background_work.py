"""Benchmark of the background work (issue #13): figures for README › Performance.

    .venv/bin/python bench/background_work.py                 # both parts
    .venv/bin/python bench/background_work.py --only sweep    # the reminder sweep on the load data
    .venv/bin/python bench/background_work.py --only email    # e-mail through the worker to a local SMTP server

1. The reminder sweep (workflows.reminders.send_step_reminders) over the load
   data (DATABASE_URL, default the database samverkan_load): one sweep for
   each of several days, so that different numbers of open steps are due;
   for each the number of notices, the queries and the time. Each sweep runs
   in a transaction that is rolled back, so that the data later runs measure
   is the data users see.
2. E-mail: messages queued with queue_email (in one transaction, and one
   transaction each as steps do), then delivered by 1 and by 2 worker
   processes (`manage.py run_worker`) to a local SMTP server (aiosmtpd,
   tests/reliability/smtp_sink.py). Delivery rate: messages / (last sent −
   first sent), from the outbox's own times; every message must arrive once.
   It adds those messages to the database's outbox (sent, linked to no step).

Prints a table and writes bench/results/background.json.
"""

import argparse
import datetime
import json
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/samverkan_load"
sys.path.insert(0, str(ROOT))


def setup():
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE)
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(60))
    os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
    import django

    django.setup()


class Rollback(Exception):
    pass


def sweep_part(days):
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone
    from viewflow.workflow.models import Task

    from background.models import OutgoingEmail
    from cases.workdays import next_working_day
    from workflows.models import StepNotice
    from workflows.reminders import send_step_reminders
    from workflows.selectors import OPEN, steps

    open_steps = Task.objects.filter(flow_task__in=steps(), status__in=OPEN).count()
    rows = []
    for offset in days:
        day = next_working_day(datetime.date.today() + datetime.timedelta(days=offset))
        timings, queries, notices = [], None, None
        for _run in range(3):
            try:
                with transaction.atomic():
                    begun = timezone.now()
                    with CaptureQueriesContext(connection) as captured:
                        started = time.perf_counter()
                        notices = send_step_reminders(day)
                        timings.append(time.perf_counter() - started)
                    queries = len(captured)
                    emails = OutgoingEmail.objects.filter(kind__startswith="step_", created_at__gte=begun).count()
                    kinds = dict.fromkeys(StepNotice.Kind.values, 0)
                    for kind in StepNotice.objects.filter(sent_on=day).values_list("kind", flat=True):
                        kinds[kind] += 1
                    raise Rollback
            except Rollback:
                pass
        rows.append(
            {
                "day": day.isoformat(),
                "notices": notices,
                "kinds": kinds,
                "emails": emails,
                "queries": queries,
                "ms_median": round(statistics.median(timings) * 1000, 1),
                "ms_min": round(min(timings) * 1000, 1),
            }
        )
    return {"open_steps": open_steps, "sweeps": rows}


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def email_part(count, single):
    from django.db import transaction
    from django.db.models import Max, Min

    from background.mail import email_batch, queue_email
    from background.models import OutgoingEmail

    results = {}
    port = free_port()
    log = Path(tempfile.mkdtemp()) / "smtp.jsonl"
    sink = subprocess.Popen(  # noqa: S603 (our own SMTP server)
        [sys.executable, str(ROOT / "tests" / "reliability" / "smtp_sink.py"), str(port), str(log), "--no-fsync"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sink.stdout.readline().strip() == "ready"
    try:
        # Queueing: one transaction with many (as the sweep does), and one transaction each (as steps do).
        tag = f"bench-{int(time.time())}"
        started = time.perf_counter()
        with transaction.atomic(), email_batch():
            for i in range(count):
                queue_email(to=[f"mottagare{i}@example.se"], subject=f"{tag} batch {i}", body="Hej", reason="Bänk")
        results["queued_per_s_in_one_transaction"] = round(count / (time.perf_counter() - started))
        started = time.perf_counter()
        for i in range(single):
            with transaction.atomic():
                queue_email(to=[f"enstaka{i}@example.se"], subject=f"{tag} single {i}", body="Hej", reason="Bänk")
        results["queued_per_s_one_transaction_each"] = round(single / (time.perf_counter() - started))

        env = {
            **os.environ,
            "EMAIL_URL": f"smtp://127.0.0.1:{port}",
            "DJANGO_SETTINGS_MODULE": "bench.settings",
        }
        for workers in (1, 2):
            if workers == 2:  # a second round of messages for two workers
                with transaction.atomic(), email_batch():
                    for i in range(count):
                        queue_email(to=[f"andra{i}@example.se"], subject=f"{tag} two {i}", body="Hej", reason="Bänk")
            label = {1: "batch", 2: "two"}[workers]
            prefix = f"{tag} {label}"
            processes = [
                subprocess.Popen(  # noqa: S603 (our own worker)
                    [sys.executable, "manage.py", "run_worker", "--no-scheduler", "--interval", "0.2"],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for _ in range(workers)
            ]
            rows = OutgoingEmail.objects.filter(subject__startswith=prefix)
            deadline = time.monotonic() + 600
            while rows.exclude(status="sent").exists() and time.monotonic() < deadline:
                time.sleep(0.5)
            for process in processes:
                process.terminate()
                process.wait(timeout=30)
            span = rows.aggregate(first=Min("sent_at"), last=Max("sent_at"))
            seconds = (span["last"] - span["first"]).total_seconds()
            results[f"delivered_per_s_{workers}_worker{'s' if workers > 1 else ''}"] = round(count / seconds, 1)
        received = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        ids = [entry["message_id"] for entry in received if tag in entry["subject"]]
        results["received"] = len(ids)
        results["received_twice"] = len(ids) - len(set(ids))
    finally:
        sink.terminate()
        sink.wait(timeout=10)
    results["messages"] = count
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["sweep", "email"])
    parser.add_argument("--emails", type=int, default=2000)
    parser.add_argument("--single", type=int, default=500)
    options = parser.parse_args()
    setup()
    from django.conf import settings

    load_before = os.getloadavg()
    report = {
        "when": datetime.datetime.now().isoformat(timespec="minutes"),
        "database": settings.DATABASES["default"]["NAME"],
        "machine": f"{platform.node()} {os.cpu_count()} CPUs",
        "load_average_before": [round(x, 2) for x in load_before],
    }
    if options.only in (None, "sweep"):
        report["sweep"] = sweep_part(days=[-1000, -400, -120, 0, 3, 30, 365, 2000])
        print(f"Reminder sweep on {report['database']}: {report['sweep']['open_steps']:,} open steps")
        columns = ("notices", "before", "due", "escal.", "e-mails", "queries")
        print(f"{'day':12} " + " ".join(f"{c:>8}" for c in columns) + f" {'ms (median of 3)':>17}")
        for row in report["sweep"]["sweeps"]:
            kinds = row["kinds"]
            print(
                f"{row['day']:12} {row['notices']:>8,} {kinds['before']:>8} {kinds['due']:>8} {kinds['escalated']:>8} "
                f"{row['emails']:>8,} {row['queries']:>8} {row['ms_median']:>17}"
            )
    if options.only in (None, "email"):
        report["email"] = email_part(options.emails, options.single)
        print("E-mail:", json.dumps(report["email"], indent=1))
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    if options.only is None:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "background.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
