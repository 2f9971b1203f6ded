"""The benchmark: Samverkan served by gunicorn on 127.0.0.1 against the load
data (manage.py generate_load_data), measured the way its users meet it.

    .venv/bin/python manage.py generate_load_data     # once: 100,000 agreements in samverkan_load
    .venv/bin/python bench/run.py                      # about five minutes; prints a table
                                                       # and writes bench/results/latest.json
    .venv/bin/python bench/run.py --only steps         # one part (pages, steps, export), printed only

What it measures, in order:

1. every key page, one request at a time (median and p95), next to
   viewflow's stock frontend for the same flow on the same data where it has
   an equivalent (its queue, archive, process list and process page, mounted
   only here: bench/urls_stock.py);
2. the floor of each page: the bare SQL the page runs to fetch its rows
   (captured from the page itself, without the session and sign-in queries
   every request makes), timed on its own; and page / floor;
3. 20 simulated users, each pausing about a second between requests: p50 and
   p95 per page, for our pages and for the stock ones (Locust, headless:
   bench/locustfile.py);
4. the highest sustained requests per second with zero errors, back to back,
   at rising concurrency (Locust too);
5. completed workflow steps per second: 8 coordinators recording region
   decisions over HTTP, each on agreements of their own, then 8 racing for the
   same agreements; every decision must be recorded exactly once;
6. the export of the whole audit log as CSV and as JSON Lines (over a
   million rows): time, and the growth of the serving process's peak memory.

Load users are signed in by sessions created directly for them (Django's
SessionStore), so the benchmark runs with bench/settings.py, which turns the
two-step verification of coordinators off; everything else is production.
Percentiles are computed here from every response time (Locust's own round
those over 100 ms to 10 ms); the steps part runs its coordinators in threads,
as it checks who was told what, request by request.
The steps benchmark adds plan periods named "Bänk …" with 1,180 agreements
awaiting decisions to the database each time it runs. So that this never
changes what the pages show, those periods end yesterday and start before
every other period, and are closed for agreements: none of the rules of
cases.agreements.selectors.default_plan_period can choose one (the county
overview and a cultural head's own panel keep showing the real current
period; tests/perf/test_bench_isolation.py). At its end the steps part
withdraws the agreements it made (their open steps cancelled), so no inbox
keeps them. Each page's measurement records the plan period and the number
of rows it showed.
"""

import argparse
import contextlib
import http.client
import json
import os
import platform
import random
import re
import secrets
import signal
import socket
import statistics
import string
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/samverkan_load"

TARGET_P95_MS = 100  # inbox, list and agreement page at 100,000 agreements
TARGET_STEPS_PER_S = 50
TARGET_EXPORT_S = 20
TARGET_EXPORT_MB = 100


def configure():
    import warnings

    from django.core.paginator import UnorderedObjectListWarning

    warnings.filterwarnings("ignore", category=UnorderedObjectListWarning)
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE)
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(60))
    os.environ["ALLOWED_HOSTS"] = "127.0.0.1,localhost,testserver"
    os.environ["SECURE_SSL_REDIRECT"] = "false"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


# ---------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn serving config.wsgi with bench/settings.py on 127.0.0.1."""

    def __init__(self, workers):
        self.workers = workers
        self.port = free_port()
        self.process = None

    def __enter__(self):
        gunicorn = Path(sys.executable).parent / "gunicorn"
        command = [
            str(gunicorn),
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
            "--timeout",
            "600",
            "--graceful-timeout",
            "5",
            "--log-level",
            "warning",
            "--preload",
        ]
        self.process = subprocess.Popen(command, cwd=ROOT, env=os.environ.copy())  # noqa: S603 (our own gunicorn)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError("gunicorn stopped during start-up") from None
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start within a minute")

    def __exit__(self, *exc):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def worker_pids(self):
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == self.process.pid:
                    pids.append(int(entry.name))
        return pids


# ---------------------------------------------------------------------------
# Clients
# ---------------------------------------------------------------------------


def session_for(user):
    """A signed-in session for ``user``, made directly (no password, no one-time code)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


class Client:
    """One simulated user: a session and a CSRF secret, plain http.client."""

    def __init__(self, port, user):
        self.port = port
        self.user = user
        self.session = session_for(user)
        self.csrf = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))

    def _headers(self):
        return {"Cookie": f"sessionid={self.session}; csrftoken={self.csrf}", "Host": "127.0.0.1"}

    def get(self, path, *, stream=False):
        """(status, milliseconds, body bytes or byte count)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        started = time.perf_counter()
        conn.request("GET", path, headers=self._headers())
        response = conn.getresponse()
        if stream:
            size = lines = 0
            while chunk := response.read(1 << 16):
                size += len(chunk)
                lines += chunk.count(b"\n")
            body = (size, lines)
        else:
            body = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        conn.close()
        return response.status, elapsed, body

    def post(self, path, data):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        body = urllib.parse.urlencode({**data, "csrfmiddlewaretoken": self.csrf})
        headers = {**self._headers(), "Content-Type": "application/x-www-form-urlencoded"}
        started = time.perf_counter()
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        elapsed = (time.perf_counter() - started) * 1000
        conn.close()
        return response.status, elapsed


def run_threads(target, arguments):
    """Run ``target(*args)`` for each args of ``arguments``, all at once in threads;
    the seconds until the last has finished."""
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(arguments)) as pool:
        list(pool.map(lambda args: target(*args), arguments))
    return time.monotonic() - started


def percentile(values, p):
    """The p-th percentile, interpolated between the closest ranks."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1] if p < 100 else max(values)


# ---------------------------------------------------------------------------
# The pages
# ---------------------------------------------------------------------------


class Page:
    def __init__(self, key, label, role, paths, stock_of=None, note=""):
        self.key, self.label, self.role, self.paths = key, label, role, paths
        self.stock_of = stock_of  # the key of our page this stock page stands next to
        self.note = note
        self._next = 0

    def path(self):
        path = self.paths[self._next % len(self.paths)]
        self._next += 1
        return path


def pages_for(people):
    """Our key pages and viewflow's stock equivalents, with the objects they show."""
    from cases.models import Agreement
    from workflows.models import AgreementProcess

    rng = random.Random(5)
    agreement_ids = list(Agreement.objects.order_by("?").values_list("pk", flat=True)[:200])
    rng.shuffle(agreement_ids)
    processes = dict(AgreementProcess.objects.filter(agreement_id__in=agreement_ids).values_list("agreement_id", "pk"))
    agreements = [f"/arbete/overenskommelser/{pk}/" for pk in agreement_ids]
    timelines = [f"/arbete/overenskommelser/{pk}/tidslinje/" for pk in agreement_ids]
    stock_processes = [f"/stock/agreement/{processes[pk]}/" for pk in agreement_ids if pk in processes]
    ours = [
        Page("inbox", "Inbox (coordinator)", "coordinator", ["/arbete/"]),
        Page("inbox_head", "Inbox (cultural head)", "head", ["/arbete/"]),
        Page("queue", "Queue", "coordinator", ["/arbete/ko/"]),
        Page("archive", "Archive (done by me)", "coordinator", ["/arbete/arkiv/"]),
        Page("list", "Agreement list (coordinator)", "coordinator", ["/arbete/overenskommelser/"]),
        Page("list_head", "Agreement list (cultural head)", "head", ["/arbete/overenskommelser/"]),
        Page("agreement", "Agreement page", "coordinator", agreements),
        Page("timeline", "Timeline", "coordinator", timelines),
        Page("audit_log", "Audit log", "coordinator", ["/arbete/granskning/"]),
        Page("county", "County overview", "coordinator", ["/arbete/lanet/"]),
    ]
    stock = [
        Page("stock_queue", "viewflow queue (coordinator)", "coordinator", ["/stock/agreement/queue/"], "inbox"),
        Page("stock_queue_head", "viewflow queue (cultural head)", "head", ["/stock/agreement/queue/"], "inbox_head"),
        Page(
            "stock_tasks",
            "viewflow task list",
            "coordinator",
            ["/stock/agreement/tasks/"],
            "queue",
            note="nearest equivalent: every task, not only open ones",
        ),
        Page("stock_archive", "viewflow archive", "coordinator", ["/stock/agreement/archive/"], "archive"),
        Page("stock_flows", "viewflow process list", "coordinator", ["/stock/agreement/flows/"], "list"),
        Page("stock_process", "viewflow process page", "coordinator", stock_processes, "agreement"),
    ]
    return ours, stock


def people():
    """The users the load is made of: coordinators of every region, cultural heads."""
    from accounts.models import Role, User

    coordinators = list(User.objects.filter(memberships__role=Role.COORDINATOR).order_by("email"))
    heads = list(User.objects.filter(memberships__role=Role.CULTURAL_HEAD).order_by("email"))
    dalarna = next(u for u in coordinators if ".20@" in u.email)
    falun = next((u for u in heads if ".2080@" in u.email), heads[0])
    return {"coordinator": dalarna, "head": falun, "coordinators": coordinators, "heads": heads}


TBODY = re.compile(r"<tbody>(.*?)</tbody>", re.DOTALL)
TABLE_ROW = re.compile(r"<tr\b.*?</tr>", re.DOTALL)
PERIOD_SELECT = re.compile(r'<select name="plan_period"[^>]*>(.*?)</select>', re.DOTALL)
SELECTED = re.compile(r'<option value="[^"]+" selected>([^<]*)</option>')  # a period, not "all"
OWN_PERIOD = re.compile(r'<h2 id="own-overview">([^<]*)</h2>')


def shown(body):
    """What a page showed: {"period": the plan period it was for (the selected
    one of its period filter, or that of a cultural head's own panel; None for
    pages not about one period), "rows": the rows of its tables (an "empty"
    row spanning the table not counted)}. So a figure always says which data
    it was measured on."""
    import html as html_module

    html = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    rows = sum(1 for tbody in TBODY.findall(html) for row in TABLE_ROW.findall(tbody) if "colspan" not in row)
    period = None
    select = PERIOD_SELECT.search(html)
    if select and (chosen := SELECTED.search(select.group(1))):
        period = html_module.unescape(chosen.group(1))
    elif own := OWN_PERIOD.search(html):
        period = html_module.unescape(own.group(1)).strip().rsplit(" ", 1)[-1]  # "Your municipality in 2023–2026"
    return {"period": period, "rows": rows}


def unloaded(server, pages, who, requests=15, warmup=3):
    """One request at a time: median and p95 of each page, and what it showed
    (plan period and rows, from its first path)."""
    results = {}
    for page in pages:
        client = Client(server.port, who[page.role])
        times, errors, showed = [], 0, None
        for n in range(warmup + requests):
            status, ms, body = client.get(page.path())
            if status != 200:
                errors += 1
            elif n >= warmup:
                times.append(ms)
            if showed is None and status == 200:
                showed = shown(body)
        showed = showed or {"period": None, "rows": None}
        results[page.key] = {
            "p50": statistics.median(times) if times else None,
            "p95": percentile(times, 95),
            "errors": errors,
            **showed,
        }
        print(
            f"    {page.label:40} {results[page.key]['p50'] or 0:8.1f} ms median"
            f"   period: {showed['period'] or '–'}, rows: {showed['rows']}",
            flush=True,
        )
    return results


def locust(server, pages, who, *, users, seconds, think):
    """Run Locust headless (bench/locustfile.py): ``users`` users on ``pages`` for
    ``seconds``, pausing about ``think`` seconds between requests (0: back to
    back). User n is coordinator n and cultural head 7n (modulo their numbers),
    signed in by sessions made for them. {"seconds", "samples": {page: [ms]},
    "errors": {page: n}}."""
    coordinators, heads = who["coordinators"], who["heads"]
    plan = {
        "think": think,
        "pages": [{"key": p.key, "role": p.role, "paths": p.paths} for p in pages],
        "csrf": "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32)),
        "users": [
            {
                "coordinator": session_for(coordinators[n % len(coordinators)]),
                "head": session_for(heads[(n * 7) % len(heads)]),
            }
            for n in range(users)
        ],
    }
    return run_locust(server, plan, users=users, seconds=seconds)


def run_locust(server, plan, *, users, seconds):
    """Locust headless (bench/locustfile.py) against ``server`` with ``plan`` (the
    pages, how each user signs in, the pause): {"seconds", "samples": {page: [ms]},
    "errors": {page: n}}. Shared by bench/api.py."""
    with tempfile.TemporaryDirectory(prefix="samverkan-locust-") as folder:
        plan_file, samples_file = Path(folder) / "plan.json", Path(folder) / "samples.json"
        plan_file.write_text(json.dumps(plan))
        command = [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(Path(__file__).resolve().parent / "locustfile.py"),
            "--headless",
            "--users",
            str(users),
            "--spawn-rate",
            str(users),
            "--run-time",
            f"{seconds}s",
            "--stop-timeout",
            "10",
            "--host",
            f"http://127.0.0.1:{server.port}",
            "--only-summary",
            "--loglevel",
            "WARNING",
        ]
        env = {**os.environ, "BENCH_LOCUST_PLAN": str(plan_file), "BENCH_LOCUST_SAMPLES": str(samples_file)}
        done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603
        if not samples_file.exists():
            raise RuntimeError(f"Locust did not finish:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return json.loads(samples_file.read_text())


def loaded(server, pages, who, *, users=20, seconds=60, think=1.0):
    """``users`` users, each requesting the pages in turn with about ``think`` s between requests."""
    run = locust(server, pages, who, users=users, seconds=seconds, think=think)
    samples, errors = run["samples"], run["errors"]
    total = sum(len(v) for v in samples.values())
    return {
        "users": users,
        "seconds": round(run["seconds"], 1),
        "requests": total,
        "requests_per_s": round(total / run["seconds"], 1),
        "pages": {
            key: {
                "p50": percentile(v, 50),
                "p95": percentile(v, 95),
                "requests": len(v),
                "errors": errors[key],
            }
            for key, v in samples.items()
        },
    }


def capacity(server, pages, who, *, levels=(2, 4, 8, 16, 32), seconds=15):
    """Back to back at rising concurrency: requests per second, errors, p95."""
    rows = []
    for concurrency in levels:
        run = locust(server, pages, who, users=concurrency, seconds=seconds, think=0)
        latencies = [ms for values in run["samples"].values() for ms in values]
        errors = sum(run["errors"].values())
        row = {
            "concurrency": concurrency,
            "requests_per_s": round(len(latencies) / run["seconds"], 1),
            "errors": errors,
            "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95),
        }
        rows.append(row)
        print(
            f"    {concurrency:3} at once: {row['requests_per_s']:6.1f} req/s, {row['errors']} errors, "
            f"p95 {fmt(row['p95'])} ms"
        )
        if errors:
            break
    best = max((r for r in rows if not r["errors"]), key=lambda r: r["requests_per_s"], default=None)
    return {"levels": rows, "best": best}


# ---------------------------------------------------------------------------
# The floor: the bare SQL of each page
# ---------------------------------------------------------------------------

OVERHEAD = re.compile(
    r'^(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)|"django_session"|"otp_totp_totpdevice"'
    r'|FROM "accounts_membership" INNER JOIN "accounts_organisation"'
    r'|^SELECT "accounts_user"\."id", "accounts_user"\."password".* WHERE "accounts_user"\."id" = \d+ LIMIT 21$',
    re.DOTALL,
)


def bare(sql):
    """The SELECT of a captured statement (a server-side cursor's DECLARE gives its
    SELECT); None for what fetches no rows of its own (FETCH, CLOSE, writes)."""
    declared = re.match(r'DECLARE "[^"]+" NO SCROLL CURSOR WITH(?:OUT)? HOLD FOR (.*)$', sql, re.DOTALL)
    if declared:
        return declared.group(1)
    return sql if sql.lstrip().upper().startswith(("SELECT", "WITH", "(SELECT")) else None


def floors(pages, who, repeats=15):
    """{page key: (floor ms, number of data queries)}: the page's own queries run bare."""
    from django.db import connection
    from django.test import Client as DjangoClient
    from django.test.utils import CaptureQueriesContext

    found = {}
    for page in pages:
        client = DjangoClient()
        client.force_login(who[page.role])
        path = page.paths[0]
        client.get(path)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
            if response.streaming:
                b"".join(response.streaming_content)
        statements = [bare(q["sql"]) for q in captured.captured_queries if not OVERHEAD.search(q["sql"])]
        statements = [sql for sql in statements if sql]
        times = []
        with connection.cursor() as cursor:
            for _ in range(repeats + 2):
                started = time.perf_counter()
                for sql in statements:
                    cursor.execute(sql)
                    cursor.fetchall()
                times.append((time.perf_counter() - started) * 1000)
        found[page.key] = {
            "floor_ms": statistics.median(times[2:]),
            "queries": len(captured.captured_queries),
            "data_queries": len(statements),
        }
    return found


# ---------------------------------------------------------------------------
# Workflow steps
# ---------------------------------------------------------------------------


def bench_period_dates(today):
    """(starts_on, ends_on) of the steps benchmark's plan periods: ending
    yesterday (so never the period that contains today) and starting before
    every other period (so never the latest either). Closed for agreements,
    such a period is never the one ``default_plan_period`` chooses, whatever
    the day, while the decisions' meeting date (yesterday: not in the future,
    within the period) is still valid."""
    import datetime

    from cases.models import PlanPeriod

    first = PlanPeriod.objects.order_by("starts_on").values_list("starts_on", flat=True).first()
    starts_on = min(first or today, today - datetime.timedelta(days=400)) - datetime.timedelta(days=1)
    return starts_on, today - datetime.timedelta(days=1)


def prepare_decisions(count, reference=None):
    """Plan periods that are never the default (``bench_period_dates``) with
    ``count`` agreements awaiting both decisions: one taken that far through
    the services (bench/loadtest), then cloned."""
    import datetime
    import random

    from django.utils import timezone

    from accounts.models import Organisation
    from bench.loadtest import scenarios
    from bench.loadtest.generate import Spec, write
    from bench.loadtest.reference import ensure_reference
    from bench.loadtest.templates import Recording
    from cases.models import PlanPeriod

    today = timezone.localdate()
    now = timezone.now()
    if reference is None:
        municipalities = Organisation.objects.filter(kind=Organisation.Kind.MUNICIPALITY).count()
        reference = ensure_reference(municipalities=municipalities, log=lambda *a: None)
    municipalities = len(reference.municipalities)
    starts_on, ends_on = bench_period_dates(today)
    # One live agreement per municipality and period: enough periods for ``count``.
    name = f"Bänk {now:%Y%m%d-%H%M%S}"
    periods = []
    for n in range(-(-count // municipalities)):
        period = PlanPeriod(
            name=name if n == 0 else f"{name}-{n + 1}", starts_on=starts_on, ends_on=ends_on, is_active=False
        )
        period.save()
        periods.append(period)
    with Recording(periods[:1]) as rec:
        template = rec.record(
            "awaiting_decisions",
            scenarios.UNDER_WAY["approval"],
            period=periods[0],
            start=scenarios.office_hours(today - datetime.timedelta(days=20), random.Random(5)),
            until=now,
            variant=False,
        )
    slots = [(m, p) for p in periods for m in reference.municipalities][:count]
    # Each clone a millisecond earlier than the one before: with one time for all,
    # 1,180 clones' history rows shared each timestamp, and the audit log (newest
    # first, by time then id) had to sort every one of them on every later run.
    specs = [
        Spec(template, m, p, datetime.timedelta(milliseconds=-n), "awaiting_decisions")
        for n, (m, p) in enumerate(slots)
    ]
    write(reference, specs, parallel=False, log=lambda *a: None)
    return periods


def open_region_decisions(periods):
    from viewflow.workflow.models import Task

    from workflows.flows import AgreementFlow

    return list(
        Task.objects.filter(
            process__agreementprocess__agreement__plan_period__in=periods,
            flow_task=AgreementFlow.region_decision,
            status="NEW",
        )
        .order_by("pk")
        .values_list("pk", "process_id", "process__agreementprocess__agreement_id")
    )


BENCH_WITHDRAWAL = "Benchmark run finished: the agreements it made are withdrawn."


def withdraw_bench_agreements(periods, actor):
    """Withdraw what the steps part left live in its periods (through the
    service, as a coordinator would): their open steps, the municipalities'
    decisions above all, are cancelled, so no inbox or queue keeps them. The
    rows stay (nothing is deleted): the lists ordered newest first show
    them. (agreements withdrawn, seconds)"""
    from cases.models import Agreement
    from workflows import services as flow_services

    started = time.monotonic()
    live = list(Agreement.objects.live().filter(plan_period__in=periods).order_by("pk"))
    for agreement in live:
        flow_services.agreement_withdraw(actor=actor, agreement=agreement, reason=BENCH_WITHDRAWAL)
    return len(live), round(time.monotonic() - started, 1)


def decision_form(periods):
    """What a coordinator posts to record the region's decision on a bench agreement."""
    meeting = periods[0].ends_on.isoformat()  # yesterday: within the bench's period, not in the future
    return {"body": "Kultur- och bildningsnämnden", "meeting_date": meeting, "paragraph": "§ 7", "outcome": "approved"}


def steps(server, who, *, users=8, count=1000, race=80, single=100):
    """Coordinators record region decisions over HTTP: each on agreements of
    their own, then all racing for the same ones. Checked in the database."""
    from viewflow.workflow.models import Task

    from cases.models import Agreement, Decision

    print("    preparing agreements awaiting decisions …", flush=True)
    periods = prepare_decisions(single + count + race)
    tasks = open_region_decisions(periods)
    own, contested = tasks[: single + count], tasks[single + count : single + count + race]
    coordinators = who["coordinators"][:users]
    form = decision_form(periods)

    def run(assignments):
        """assignments: [(client, [task, …])]; returns (statuses per task, seconds)."""
        statuses = {}
        lock = threading.Lock()

        def work(client, batch):
            for task_pk, process_pk, _agreement in batch:
                status, _ms = client.post(f"/arbete/steg/{process_pk}/region_decision/{task_pk}/", form)
                with lock:
                    statuses.setdefault(task_pk, []).append((client.user.pk, status))

        return statuses, run_threads(work, assignments)

    clients = [Client(server.port, c) for c in coordinators]
    # One coordinator alone first: what one step costs end to end.
    alone_batch, own = own[:single], own[single:]
    alone, alone_seconds = run([(clients[0], alone_batch)])
    alone_done = sum(1 for results in alone.values() for _u, s in results if s == 302)
    print(f"    {alone_done} steps by one coordinator in {alone_seconds:.1f} s", flush=True)
    statuses, seconds = run([(c, own[i :: len(clients)]) for i, c in enumerate(clients)])
    statuses.update(alone)
    completed = sum(1 for results in statuses.values() for _u, s in results if s == 302) - alone_done
    print(f"    {completed} steps by {len(clients)} coordinators in {seconds:.1f} s", flush=True)
    race_statuses, race_seconds = run([(c, contested) for c in clients])

    # Every completed step recorded exactly once, by the one who was told it was done.
    problems = []
    for task_pk, results in list(statuses.items()) + list(race_statuses.items()):
        winners = [user for user, status in results if status == 302]
        others = [status for _user, status in results if status != 302]
        task = Task.objects.select_related("process__agreementprocess").get(pk=task_pk)
        agreement = Agreement.objects.get(pk=task.process.agreementprocess.agreement_id)
        decisions = Decision.objects.filter(agreement=agreement, party="region").count()
        # The step's history: the decision's own row, written in that task.
        history = Decision.history.filter(agreement_id=agreement.pk, history_task_id=task_pk).count()
        if len(winners) != 1 or task.status != "DONE" or task.owner_id != winners[0] or decisions != 1 or history != 1:
            problems.append({"task": task_pk, "winners": winners, "status": task.status, "decisions": decisions})
        if any(status not in (409,) for status in others):
            problems.append({"task": task_pk, "unexpected": others})
    print("    withdrawing the bench's agreements (their open steps cancelled) …", flush=True)
    withdrawn, withdrawal_seconds = withdraw_bench_agreements(periods, coordinators[0])
    return {
        "withdrawn_afterwards": {"agreements": withdrawn, "seconds": withdrawal_seconds},
        "users": len(clients),
        "steps": completed,
        "seconds": round(seconds, 2),
        "steps_per_s": round(completed / seconds, 1) if seconds else None,
        "one_user": {
            "steps": alone_done,
            "seconds": round(alone_seconds, 2),
            "steps_per_s": round(alone_done / alone_seconds, 1) if alone_seconds else None,
        },
        "race": {
            "agreements": len(contested),
            "attempts": sum(len(r) for r in race_statuses.values()),
            "completed": sum(1 for r in race_statuses.values() for _u, s in r if s == 302),
            "refused_409": sum(1 for r in race_statuses.values() for _u, s in r if s == 409),
            "seconds": round(race_seconds, 2),
        },
        "lost_or_doubled": len(problems),
        "problems": problems[:10],
    }


# ---------------------------------------------------------------------------
# The audit-log export
# ---------------------------------------------------------------------------


def memory_kb(pid):
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


def export(who, *, fmt="csv"):
    """The whole audit log as CSV (or JSON Lines), from a server of one worker
    whose peak memory is read from /proc."""
    from django.urls import NoReverseMatch, reverse

    try:
        path = reverse(f"workflows:audit_export_{fmt}")
    except NoReverseMatch:
        return {"measured": False, "why": "not measured: no export yet"}
    with Server(1) as server:
        client = Client(server.port, who["coordinator"])
        client.get("/arbete/")  # the worker loads what every request needs
        (pid,) = server.worker_pids()
        before = memory_kb(pid)["VmRSS"]
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # the peak starts again from now
        status, ms, (size, lines) = client.get(path, stream=True)
        after = memory_kb(pid)
    rows = lines - 1 if fmt == "csv" else lines  # the CSV's first line is its header
    return {
        "measured": True,
        "format": fmt,
        "status": status,
        "rows": rows,
        "megabytes": round(size / 1e6, 1),
        "seconds": round(ms / 1000, 1),
        "rows_per_s": round(rows / (ms / 1000)),
        "rss_before_mb": round(before / 1024, 1),
        "peak_mb": round(after["VmHWM"] / 1024, 1),
        "peak_growth_mb": round((after["VmHWM"] - before) / 1024, 1),
    }


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def dataset():
    from django.db import connection

    from accounts.models import Organisation, User
    from cases.models import Agreement

    counts = {
        "agreements": Agreement.objects.count(),
        "regions": Organisation.objects.filter(kind="region").count(),
        "municipalities": Organisation.objects.filter(kind="municipality").count(),
        "users": User.objects.count(),
    }
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM viewflow_task")
        counts["tasks"] = cursor.fetchone()[0]
        cursor.execute(
            "SELECT sum(n_live_tup) FROM pg_stat_user_tables WHERE relname LIKE '%%historical%%' "
            "AND relname NOT LIKE '%%priorities' AND relname NOT LIKE '%%participants'"
        )
        counts["history_rows_estimate"] = int(cursor.fetchone()[0] or 0)
        cursor.execute("SHOW server_version")
        counts["postgresql"] = cursor.fetchone()[0]
    return counts


def fmt(value, digits=0):
    return "–" if value is None else f"{value:.{digits}f}"


def report(result):
    pages = result["pages"]
    print()
    print(
        f"Samverkan benchmark, {result['when']}: {result['dataset']['agreements']:,} agreements, "
        f"{result['dataset']['tasks']:,} tasks, ~{result['dataset']['history_rows_estimate']:,} history rows; "
        f"{result['machine']['cpus']} CPUs, gunicorn {result['server']['workers']} workers"
    )
    print()
    header = (
        f"{'page':34} {'1 user p50':>10} {'p95':>7} {'20 users p50':>12} {'p95':>7} "
        f"{'floor':>7} {'x floor':>8} {'queries':>7}  plan period, rows shown"
    )
    print(header)
    print("-" * len(header))
    for row in pages:
        print(
            f"{row['label'][:34]:34} {fmt(row['single_p50'], 1):>10} {fmt(row['single_p95'], 1):>7} "
            f"{fmt(row['loaded_p50'], 1):>12} {fmt(row['loaded_p95'], 1):>7} {fmt(row['floor_ms'], 1):>7} "
            f"{fmt(row['ratio'], 1):>8} {row['queries'] or '–':>7}  {row['period'] or '–'}, {row['rows']}"
        )
    print()
    print("Side by side with viewflow's stock frontend (1 user p50, ms):")
    for row in result["stock"]:
        ours = next(p for p in pages if p["key"] == row["stock_of"])
        verdict = "faster" if ours["single_p50"] < row["single_p50"] else "SLOWER"
        print(
            f"  {ours['label'][:30]:30} {fmt(ours['single_p50'], 1):>7}  vs  {row['label'][:30]:30} "
            f"{fmt(row['single_p50'], 1):>7}  ({verdict}{'; ' + row['note'] if row['note'] else ''})"
        )
    capacity_best = result["capacity"]["best"]
    print()
    if capacity_best:
        print(
            f"Highest sustained rate with zero errors: {capacity_best['requests_per_s']} req/s "
            f"({capacity_best['concurrency']} at once, p95 {capacity_best['p95']:.0f} ms)"
        )
    s = result["steps"]
    print(
        f"Workflow steps: {s['steps']} region decisions by {s['users']} coordinators in {s['seconds']} s = "
        f"{s['steps_per_s']} steps/s; race for {s['race']['agreements']} agreements: "
        f"{s['race']['completed']} recorded, {s['race']['refused_409']} refused (409); "
        f"lost or doubled: {s['lost_or_doubled']}"
    )
    print(f"  (one coordinator alone: {s['one_user']['steps_per_s']} steps/s)")
    e = result["export"]
    if e.get("measured"):
        print(
            f"Audit export (CSV): {e['rows']:,} rows, {e['megabytes']} MB in {e['seconds']} s "
            f"({e['rows_per_s']:,} rows/s); peak memory growth {e['peak_growth_mb']} MB"
        )
        j = e.get("jsonl") or {}
        if j.get("measured"):
            print(
                f"  … as JSON Lines: {j['rows']:,} rows, {j['megabytes']} MB in {j['seconds']} s; "
                f"peak memory growth {j['peak_growth_mb']} MB"
            )
    else:
        print(f"Audit export: {e['why']}")
    print()
    print("Targets:")
    for name, target in result["targets"].items():
        print(f"  {'met ' if target['met'] else 'MISSED'}  {name}: {target['detail']}")


def targets(result):
    pages = {p["key"]: p for p in result["pages"]}
    found = {}
    for key in ("inbox", "list", "agreement"):
        p95 = pages[key]["loaded_p95"]
        found[f"p95 ≤ {TARGET_P95_MS} ms: {pages[key]['label']}"] = {
            "met": p95 is not None and p95 <= TARGET_P95_MS,
            "detail": f"{fmt(p95, 1)} ms",
        }
    s = result["steps"]
    found[f"≥ {TARGET_STEPS_PER_S} steps/s, no lost update"] = {
        "met": (s["steps_per_s"] or 0) >= TARGET_STEPS_PER_S and s["lost_or_doubled"] == 0,
        "detail": f"{s['steps_per_s']} steps/s, {s['lost_or_doubled']} lost or doubled",
    }
    e = result["export"]
    if e.get("measured"):
        per_million = e["seconds"] * 1_000_000 / max(e["rows"], 1)
        found[f"1,000,000 audit rows in ≤ {TARGET_EXPORT_S} s, ≤ {TARGET_EXPORT_MB} MB"] = {
            "met": per_million <= TARGET_EXPORT_S and e["peak_growth_mb"] <= TARGET_EXPORT_MB,
            "detail": f"{per_million:.1f} s per million rows ({e['rows']:,} rows in {e['seconds']} s), "
            f"peak growth {e['peak_growth_mb']} MB",
        }
        j = e.get("jsonl") or {}
        if j.get("measured"):
            per_million = j["seconds"] * 1_000_000 / max(j["rows"], 1)
            found[f"the same as JSON Lines: ≤ {TARGET_EXPORT_S} s per million, ≤ {TARGET_EXPORT_MB} MB"] = {
                "met": per_million <= TARGET_EXPORT_S and j["peak_growth_mb"] <= TARGET_EXPORT_MB,
                "detail": f"{per_million:.1f} s per million rows, peak growth {j['peak_growth_mb']} MB",
            }
    for row in result["stock"]:
        ours = pages[row["stock_of"]]
        found[f"faster than stock: {ours['label']} vs {row['label']}"] = {
            "met": ours["single_p50"] < row["single_p50"],
            "detail": f"{fmt(ours['single_p50'], 1)} vs {fmt(row['single_p50'], 1)} ms",
        }
    return found


def only(args):
    """One part of the benchmark, printed as JSON: for trying a change."""
    who = people()
    if args.only == "export":
        part = {"export": export(who), "jsonl": export(who, fmt="jsonl")}
    else:
        with Server(args.workers) as server:
            if args.only == "steps":
                part = steps(server, who, count=args.steps, race=80, single=100)
            else:
                # With --markdown the progress goes to stderr, so stdout is the table alone.
                with contextlib.redirect_stdout(sys.stderr if args.markdown else sys.stdout):
                    part = pages_runs(server, who, args)
    if args.only == "pages":
        output = RESULTS / "pages.json"
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(part, indent=2, ensure_ascii=False, default=str) + "\n")
        print(f"Written to {output}.", file=sys.stderr)
        if args.markdown:
            print(pages_markdown(part))
            return
    print(json.dumps(part, indent=2, default=str))


def pages_runs(server, who, args):
    """The pages part ``args.runs`` times (one user, the floor, ``args.users``
    users): each run's figures, and per page what it showed (plan period, rows).
    The floor is measured in this process, the pages through the server."""
    ours, _stock = pages_for(who)
    runs = []
    for n in range(args.runs):
        print(f"  run {n + 1} of {args.runs}: one request at a time …", flush=True)
        load_before = os.getloadavg()
        single = unloaded(server, ours, who)
        print(f"  run {n + 1}: the floor …", flush=True)
        floor = floors(ours, who)
        print(f"  run {n + 1}: {args.users} users, {args.seconds} s …", flush=True)
        load = loaded(server, ours, who, users=args.users, seconds=args.seconds)
        runs.append(
            {
                "load_average": [round(x, 1) for x in (*load_before, *os.getloadavg())],
                "load": {k: v for k, v in load.items() if k != "pages"},
                "pages": {
                    page.key: {
                        "label": page.label,
                        "period": single[page.key]["period"],
                        "rows": single[page.key]["rows"],
                        "single_p50": single[page.key]["p50"],
                        "single_p95": single[page.key]["p95"],
                        "loaded_p50": load["pages"][page.key]["p50"],
                        "loaded_p95": load["pages"][page.key]["p95"],
                        "floor_ms": floor[page.key]["floor_ms"],
                        "queries": floor[page.key]["queries"],
                        "errors": single[page.key]["errors"] + load["pages"][page.key]["errors"],
                    }
                    for page in ours
                },
            }
        )
    return {
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "database": os.environ["DATABASE_URL"].rsplit("/", 1)[-1],
        "dataset": dataset(),
        "workers": args.workers,
        "users": args.users,
        "seconds": args.seconds,
        "runs": runs,
    }


def pages_markdown(part):
    """The pages part as a Markdown table: per page the median over the runs,
    with the spread (lowest–highest) where there is more than one run."""
    runs = part["runs"]

    def cell(key, values, digits=0):
        values = [v for v in values if v is not None]
        if not values:
            return "–"
        middle = statistics.median(values)
        if len(values) == 1 or round(min(values), digits) == round(max(values), digits):
            return f"{middle:,.{digits}f}"
        return f"{middle:,.{digits}f} ({min(values):,.{digits}f}–{max(values):,.{digits}f})"

    keys = list(runs[0]["pages"])
    data = part["dataset"]
    loads = [x for r in runs for x in r["load_average"]]
    lines = [
        f"Pages, {part['when']}, database {part['database']}: {data['agreements']:,} agreements, "
        f"{data['municipalities']} municipalities, {data['tasks']:,} tasks; {len(runs)} runs, gunicorn "
        f"{part['workers']} workers, {part['users']} users for {part['seconds']} s each; load average "
        f"{min(loads):.1f}–{max(loads):.1f}. Milliseconds: median of the runs (lowest–highest).",
        "",
        "| page | plan period shown | rows | 1 user p50 | 20 users p50 | 20 users p95 | SQL floor "
        "| page / floor | / agreement list | queries |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key in keys:
        per_run = [r["pages"][key] for r in runs]
        lists = [r["pages"].get("list", {}).get("single_p50") for r in runs]
        ratio_floor = [p["single_p50"] / p["floor_ms"] if p["single_p50"] and p["floor_ms"] else None for p in per_run]
        ratio_list = [
            p["single_p50"] / lst if p["single_p50"] and lst else None for p, lst in zip(per_run, lists, strict=True)
        ]
        periods = sorted({str(p["period"] or "–") for p in per_run})
        rows = sorted({p["rows"] for p in per_run if p["rows"] is not None})
        lines.append(
            f"| {per_run[0]['label']} | {', '.join(periods)} | {', '.join(str(r) for r in rows) or '–'} "
            f"| {cell(key, [p['single_p50'] for p in per_run])} | {cell(key, [p['loaded_p50'] for p in per_run])} "
            f"| {cell(key, [p['loaded_p95'] for p in per_run])} | {cell(key, [p['floor_ms'] for p in per_run], 1)} "
            f"| {cell(key, ratio_floor, 1)} | {cell(key, ratio_list, 1)} "
            f"| {', '.join(str(q) for q in sorted({p['queries'] for p in per_run}))} |"
        )
    errors = sum(p["errors"] for r in runs for p in r["pages"].values())
    rates = [r["load"]["requests_per_s"] for r in runs]
    lines += ["", f"Errors: {errors}. 20-user rate: {cell('', rates, 1)} requests/s."]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    parser.add_argument("--users", type=int, default=20, help="simulated users with think time (default 20)")
    parser.add_argument("--seconds", type=int, default=60, help="length of the 20-user run (default 60)")
    parser.add_argument("--steps", type=int, default=1000, help="region decisions in the steps run (default 1000)")
    parser.add_argument("--quick", action="store_true", help="a short run to try the script (not for figures)")
    parser.add_argument("--output", default=str(RESULTS / "latest.json"))
    parser.add_argument("--runs", type=int, default=1, help="with --only pages: how many runs (default 1)")
    parser.add_argument(
        "--markdown", action="store_true", help="with --only pages: print a Markdown table instead of JSON"
    )
    parser.add_argument(
        "--only",
        choices=("pages", "steps", "export"),
        help="measure one part and print it: pages = one user, the floor and 20 users on our pages "
        "(also written to bench/results/pages.json); steps and export: nothing is written",
    )
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.steps = 15, 80
    configure()
    if args.only:
        only(args)
        return

    started = time.monotonic()
    load_before = os.getloadavg()
    data = dataset()
    if data["agreements"] == 0:
        sys.exit("No load data: run `python manage.py generate_load_data` first.")
    who = people()
    ours, stock = pages_for(who)
    print(f"Benchmark on {os.environ['DATABASE_URL'].rsplit('/', 1)[-1]}: {data['agreements']:,} agreements")

    with Server(args.workers) as server:
        print("  1. one request at a time …", flush=True)
        single = unloaded(server, ours + stock, who)
        print("  2. the floor: each page's bare SQL …", flush=True)
        floor = floors(ours + stock, who)
        print(f"  3. {args.users} users, a second between requests, {args.seconds} s …", flush=True)
        under_load = loaded(server, ours, who, users=args.users, seconds=args.seconds)
        stock_load = loaded(server, stock, who, users=args.users, seconds=max(15, args.seconds // 2))
        print("  4. back to back at rising concurrency …", flush=True)
        rates = capacity(server, ours, who, seconds=8 if args.quick else 15)
        print("  5. workflow steps …", flush=True)
        step_result = steps(
            server, who, count=args.steps, race=16 if args.quick else 80, single=20 if args.quick else 100
        )
    print("  6. the audit-log export …", flush=True)
    export_result = export(who)
    export_result["jsonl"] = export(who, fmt="jsonl")

    def row(page, load):
        single_p50 = single[page.key]["p50"]
        floor_ms = floor[page.key]["floor_ms"]
        return {
            "key": page.key,
            "label": page.label,
            "user": page.role,
            "path": page.paths[0],
            "period": single[page.key]["period"],
            "rows": single[page.key]["rows"],
            "single_p50": single_p50,
            "single_p95": single[page.key]["p95"],
            "loaded_p50": load["pages"][page.key]["p50"],
            "loaded_p95": load["pages"][page.key]["p95"],
            "loaded_requests": load["pages"][page.key]["requests"],
            "errors": single[page.key]["errors"] + load["pages"][page.key]["errors"],
            "floor_ms": floor_ms,
            "ratio": single_p50 / floor_ms if single_p50 and floor_ms else None,
            "queries": floor[page.key]["queries"],
            "data_queries": floor[page.key]["data_queries"],
            "stock_of": page.stock_of,
            "note": page.note,
        }

    result = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "dataset": data,
        "server": {"software": "gunicorn", "workers": args.workers, "settings": "bench.settings (production, no 2FA)"},
        "pages": [row(p, under_load) for p in ours],
        "stock": [row(p, stock_load) for p in stock],
        "load": {k: v for k, v in under_load.items() if k != "pages"},
        "capacity": rates,
        "steps": step_result,
        "export": export_result,
        "seconds": round(time.monotonic() - started),
    }
    result["targets"] = targets(result)
    report(result)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n")
    print(f"\nWritten to {output} ({result['seconds']} s in all).")


if __name__ == "__main__":
    main()
