"""Capacity: requests per second with one app server and with two behind
nginx, on this machine (README › Performance › Capacity).

    .venv/bin/python bench/capacity.py --prepare    # once: migrate + the demo data in samverkan_capacity
    .venv/bin/python bench/capacity.py              # about three minutes; prints a table and
                                                    # writes bench/results/capacity.json

The servers are those of the cluster tests (tests/ops/cluster.py): gunicorn
with deploy/gunicorn.conf.py and the production settings (its default
2 × CPUs + 1 worker processes each), Debian's nginx in front with the proxy
settings of deploy/nginx/samverkan.conf. Here the "machines" are loopback
addresses (127.0.0.2, 127.0.0.3), not network namespaces: in namespaces the
database traffic would pass through the test's Python relay, which would be
what was measured.

The load: C signed-in cultural heads (sessions made directly, as bench/run.py
does), each a thread with a kept-alive connection to nginx, back to back (no
pause), cycling through the inbox, the agreement list and the agreement
pages of their municipality. Measured per configuration and concurrency:
requests per second over the run (after a warm-up), p50/p95, errors.

What it can show: the cost of the proxy hop, and whether a second app server
on the same two cores adds anything (it cannot add CPU: both servers, nginx,
PostgreSQL and this load generator share the machine's two cores, so the
figure for two servers is a floor of what two machines would do, and mostly
shows that the servers share nothing but the database). What it cannot show:
the capacity of two real machines, or of a loaded database (the demo data is
small; bench/run.py measures pages at 100,000 agreements). And the machine
is shared with other work while this runs, so the figures are noisy: the
load average before and after is printed and stored with them.
"""

import argparse
import http.client
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "capacity.json"
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/samverkan_capacity"


def configure(database_url):
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    from tests.ops.liveserver import SECRET

    os.environ["SECRET_KEY"] = SECRET  # the app servers' (the sessions made here are signed with it)
    os.environ["ALLOWED_HOSTS"] = "127.0.0.1"
    os.environ["SECURE_SSL_REDIRECT"] = "false"
    import django

    django.setup()


def prepare(database_url):
    subprocess.run([str(ROOT / "scripts" / "ensure-postgres"), database_url], check=True)  # noqa: S603
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "config.settings.local"}
    for command in (["migrate", "--noinput", "-v0"], ["seed_demo"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True)  # noqa: S603


def load_users(count):
    """``count`` sessions of cultural heads, and the pages each of them cycles through."""
    from accounts.models import Role, User
    from bench.run import session_for
    from cases.models import Agreement

    users = []
    for head in User.objects.filter(memberships__role=Role.CULTURAL_HEAD, is_active=True).distinct():
        organisation = head.memberships.filter(role=Role.CULTURAL_HEAD).first().organisation
        agreements = list(Agreement.objects.filter(municipality=organisation).values_list("pk", flat=True)[:5])
        if agreements:
            pages = ["/arbete/", "/arbete/overenskommelser/", *[f"/arbete/overenskommelser/{pk}/" for pk in agreements]]
            users.append((head, pages))
    if not users:
        raise SystemExit("No cultural head with agreements: run with --prepare first.")
    return [(session_for(users[i % len(users)][0]), users[i % len(users)][1]) for i in range(count)]


def percentile(values, p):
    ordered = sorted(values)
    if not ordered:
        return None
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def hammer(host, port, sessions, *, seconds, warmup):
    """Every session in a thread of its own, back to back; figures after the warm-up."""
    start = time.monotonic()
    measure_from, stop_at = start + warmup, start + warmup + seconds
    latencies, errors, lock = [], [], threading.Lock()

    def user(session, pages):
        connection = http.client.HTTPConnection(host, port, timeout=60)
        headers = {"Cookie": f"sessionid={session}", "Host": "127.0.0.1"}
        index = 0
        while (now := time.monotonic()) < stop_at:
            path = pages[index % len(pages)]
            index += 1
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as exc:
                status = repr(exc)
                connection.close()
                connection = http.client.HTTPConnection(host, port, timeout=60)
            elapsed = time.monotonic() - now
            if now >= measure_from:
                with lock:
                    (latencies.append(elapsed * 1000) if status == 200 else errors.append((path, status)))
        connection.close()

    threads = [threading.Thread(target=user, args=pair) for pair in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "requests_per_s": round(len(latencies) / seconds, 1),
        "p50_ms": round(percentile(latencies, 50) or 0, 1),
        "p95_ms": round(percentile(latencies, 95) or 0, 1),
        "requests": len(latencies),
        "errors": len(errors),
        "first_errors": errors[:3],
    }


def measure(servers, database, sessions_by_level, *, seconds, warmup, workers=None, straight=False):
    from django.db import connection

    from tests.ops.cluster import Cluster

    with tempfile.TemporaryDirectory(prefix="samverkan-capacity-") as tmp:
        cluster = Cluster(
            tmp, dict(connection.settings_dict), gunicorn_workers=workers, use_namespaces=False, cuttable_database=False
        )
        connection.close()
        try:
            cluster.make_machines(servers)
            for machine in cluster.machines:
                cluster.start_app_server(machine, LOG_FORMAT="json", SESSION_IDLE_SECONDS=3600)
            cluster.wait_until_serving()
            cluster.start_nginx()
            if straight:  # straight to the one app server's own address: no proxy
                host, port = cluster.machines[0].address, cluster.port
            else:
                host, port = "127.0.0.1", cluster.nginx_port
            rows = []
            for level, sessions in sessions_by_level.items():
                row = hammer(host, port, sessions, seconds=seconds, warmup=warmup)
                row["concurrency"] = level
                rows.append(row)
                print(
                    f"    {level:3} at once: {row['requests_per_s']:6.1f} req/s, p50 {row['p50_ms']:6.1f} ms, "
                    f"p95 {row['p95_ms']:6.1f} ms, {row['errors']} errors",
                    flush=True,
                )
            return rows
        finally:
            cluster.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("CAPACITY_DATABASE_URL", DEFAULT_DATABASE))
    parser.add_argument("--prepare", action="store_true", help="create, migrate and seed the database first")
    parser.add_argument("--levels", default="8,16", help="concurrent users, comma-separated (default 8,16)")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument(
        "--workers", type=int, default=None, help="gunicorn worker processes per server (default: 2 × CPUs + 1)"
    )
    args = parser.parse_args()
    if args.prepare:
        prepare(args.database_url)
    configure(args.database_url)
    levels = [int(level) for level in args.levels.split(",")]
    sessions_by_level = {level: load_users(level) for level in levels}
    load_before = os.getloadavg()
    print(f"{os.cpu_count()} CPUs, load average {load_before[0]:.2f} before; database {args.database_url}")
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_before": load_before},
        "gunicorn_workers_per_server": args.workers or 2 * os.cpu_count() + 1,
        "configurations": {},
    }
    for key, label, servers, straight in (
        ("one_straight", "One app server, no proxy", 1, True),
        ("one_nginx", "One app server behind nginx", 1, False),
        ("two_nginx", "Two app servers behind nginx", 2, False),
    ):
        print(f"{label}:", flush=True)
        rows = measure(
            servers,
            args.database_url,
            sessions_by_level,
            seconds=args.seconds,
            warmup=args.warmup,
            workers=args.workers,
            straight=straight,
        )
        result["configurations"][key] = {"label": label, "servers": servers, "levels": rows}
    result["machine"]["load_after"] = os.getloadavg()
    print(f"load average {result['machine']['load_after'][0]:.2f} after")
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
