"""The API benchmark: the agreement list and detail endpoints of /api/v1/,
served by gunicorn with bench/settings.py against the load data
(manage.py generate_load_data: 100,000 agreements), called with integration
tokens as the region's other systems call them.

    .venv/bin/python bench/api.py                  # about two minutes; prints a table
    .venv/bin/python bench/api.py --markdown       # the table as Markdown (progress to stderr)
    .venv/bin/python bench/api.py --seconds 20     # a shorter 20-user run

What it measures, as bench/run.py does for the pages:

1. each endpoint one request at a time (3 warm-up requests, then 15): p50 and
   p95;
2. 20 simulated users (Locust, headless, bench/locustfile.py), each pausing
   0.8–1.2 s between requests over all the endpoints: p50 and p95 per
   endpoint, computed here from every response time (statistics.quantiles;
   Locust's own statistics round those over 100 ms to 10 ms).

The endpoints: the agreement list's first page (50 agreements) as a
coordinator token (sees everything) and as Falun's cultural-head token (sees
Falun's), a page deep in the list (the keyset cursor of page 20), and the
detail of 200 agreements chosen at random (areas, decisions, signatures,
attachments, documents) as the coordinator token, and of Falun's as Falun's.

**What it writes to the database it reads.** Two integration tokens are
created at the start, through the service an administrator uses
(api.services.token_create: an integration account, its membership, the
token, their history rows), and revoked at the end, also through the service
(token_revoke: the account deactivated), whatever happens in between. Nothing
is deleted (the product never deletes): the load data keeps two revoked tokens
and their deactivated accounts per run, named "Benchmark (bench/api.py) …".
Each token's last use is recorded once a minute, as in production. The
benchmark server raises the per-token rate limit (API_TOKEN_RATE) so that 20
users sharing one token are not throttled; the throttle itself still runs.
"""

import argparse
import contextlib
import datetime
import http.client
import json
import os
import platform
import random
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import Server, configure, fmt, percentile, run_locust  # noqa: E402

TARGET_P95_MS = 100
TOKEN_NAME = "Benchmark (bench/api.py)"


# ---------------------------------------------------------------------------
# Tokens, made and revoked through the services
# ---------------------------------------------------------------------------


def make_tokens():
    """A coordinator token of the region and a cultural-head token of Falun,
    created as the load data's administrator. {role: CreatedToken}."""
    from django.utils import timezone

    from accounts.models import Membership, Organisation, Role
    from api.services import token_create

    administrator = (
        Membership.objects.filter(role=Role.ADMINISTRATOR, is_active=True, user__is_active=True).first().user
    )
    falun = Organisation.objects.get(kind=Organisation.Kind.MUNICIPALITY, name="Falun")
    coordinator = (
        Membership.objects.filter(role=Role.COORDINATOR, is_active=True, user__email__contains=".20@").first()
        or Membership.objects.filter(role=Role.COORDINATOR, is_active=True).first()
    )
    expires = timezone.now() + datetime.timedelta(hours=6)
    stamp = timezone.now().strftime("%Y-%m-%d %H:%M")
    made = {}
    for role, organisation, label in (
        ("coordinator", coordinator.organisation, Role.COORDINATOR),
        ("head", falun, Role.CULTURAL_HEAD),
    ):
        made[role] = token_create(
            actor=administrator,
            organisation=organisation,
            role=label,
            name=f"{TOKEN_NAME} {stamp} {role}",
            expires_at=expires,
        )
    return administrator, made


def revoke_tokens(administrator, made):
    from api.services import token_revoke

    for created in made.values():
        token_revoke(actor=administrator, token=created.token)


# ---------------------------------------------------------------------------
# The endpoints
# ---------------------------------------------------------------------------


class Endpoint:
    def __init__(self, key, label, role, paths):
        self.key, self.label, self.role, self.paths = key, label, role, paths
        self._next = 0

    def path(self):
        path = self.paths[self._next % len(self.paths)]
        self._next += 1
        return path


def get(port, path, key):
    """(status, milliseconds, body) of one GET with the token."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    headers = {"Authorization": f"Bearer {key}", "Host": "127.0.0.1", "Accept-Encoding": "identity"}
    started = time.perf_counter()
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    conn.close()
    return response.status, elapsed, body


def deep_page(port, key, pages=20):
    """The path of the ``pages``-th page of the agreement list, following ``next``."""
    path = "/api/v1/agreements/"
    for _ in range(pages - 1):
        status, _ms, body = get(port, path, key)
        following = json.loads(body).get("next") if status == 200 else None
        if not following:
            break
        parts = urllib.parse.urlsplit(following)
        path = f"{parts.path}?{parts.query}"
    return path


def endpoints(port, keys):
    from cases.models import Agreement

    rng = random.Random(5)
    every = list(Agreement.objects.order_by("?").values_list("pk", flat=True)[:200])
    falun = list(Agreement.objects.filter(municipality__name="Falun").values_list("pk", flat=True)[:400])
    rng.shuffle(every)
    rng.shuffle(falun)
    return [
        Endpoint("list", "Agreement list (coordinator token)", "coordinator", ["/api/v1/agreements/"]),
        Endpoint("list_head", "Agreement list (Falun token)", "head", ["/api/v1/agreements/"]),
        Endpoint(
            "list_deep", "Agreement list, page 20 (coordinator)", "coordinator", [deep_page(port, keys["coordinator"])]
        ),
        Endpoint(
            "detail",
            "Agreement detail (coordinator token)",
            "coordinator",
            [f"/api/v1/agreements/{pk}/" for pk in every],
        ),
        Endpoint(
            "detail_head",
            "Agreement detail (Falun token)",
            "head",
            [f"/api/v1/agreements/{pk}/" for pk in falun[:200]],
        ),
    ]


def unloaded(server, points, keys, requests=15, warmup=3):
    results = {}
    for point in points:
        times, errors, rows = [], 0, None
        for n in range(warmup + requests):
            status, ms, body = get(server.port, point.path(), keys[point.role])
            if status != 200:
                errors += 1
            elif n >= warmup:
                times.append(ms)
            if rows is None and status == 200:
                data = json.loads(body)
                rows = len(data["results"]) if isinstance(data, dict) and "results" in data else 1
        results[point.key] = {
            "p50": percentile(times, 50),
            "p95": percentile(times, 95),
            "errors": errors,
            "rows": rows,
        }
        print(f"    {point.label:42} {fmt(results[point.key]['p50'], 1):>8} ms median, rows: {rows}", flush=True)
    return results


def loaded(server, points, keys, *, users, seconds, think):
    """Locust, headless, with bench/locustfile.py: every user sends the tokens' headers."""
    plan = {
        "think": think,
        "pages": [{"key": p.key, "role": p.role, "paths": p.paths} for p in points],
        "headers": {
            role: {"Authorization": f"Bearer {key}", "Accept-Encoding": "identity"} for role, key in keys.items()
        },
    }
    run = run_locust(server, plan, users=users, seconds=seconds)
    samples, errors = run["samples"], run["errors"]
    total = sum(len(v) for v in samples.values())
    return {
        "users": users,
        "seconds": round(run["seconds"], 1),
        "requests": total,
        "requests_per_s": round(total / run["seconds"], 1),
        "endpoints": {
            key: {"p50": percentile(v, 50), "p95": percentile(v, 95), "requests": len(v), "errors": errors[key]}
            for key, v in samples.items()
        },
    }


# ---------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------


def rows(result):
    for point in result["endpoints"]:
        single = result["single"][point["key"]]
        load = result["loaded"]["endpoints"][point["key"]]
        yield point, single, load


def report(result):
    print()
    print(
        f"Samverkan API benchmark, {result['when']}: {result['agreements']:,} agreements; "
        f"{result['machine']['cpus']} CPUs, gunicorn {result['workers']} workers; "
        f"load average {result['load_before'][0]:.1f} before, {result['load_after'][0]:.1f} after"
    )
    print()
    print(f"{'endpoint':42} {'1 user p50':>10} {'p95':>7} {'20 users p50':>12} {'p95':>7} {'errors':>6}")
    for point, single, load in rows(result):
        print(
            f"{point['label']:42} {fmt(single['p50']):>10} {fmt(single['p95']):>7} "
            f"{fmt(load['p50']):>12} {fmt(load['p95']):>7} {single['errors'] + load['errors']:>6}"
        )
    loaded_run = result["loaded"]
    print()
    print(
        f"{loaded_run['users']} users, about {result['think']} s between requests, {loaded_run['seconds']} s: "
        f"{loaded_run['requests']} requests, {loaded_run['requests_per_s']} requests/s. "
        f"Target: p95 <= {TARGET_P95_MS} ms under load."
    )


def markdown(result):
    lines = [
        f"Run of {result['when']} ({result['agreements']:,} agreements, load average "
        f"{result['load_before'][0]:.1f} before, {result['load_after'][0]:.1f} after; milliseconds):",
        "",
        "| endpoint | 1 user p50 | p95 | 20 users p50 | p95 |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for point, single, load in rows(result):
        lines.append(
            f"| {point['label']} | {fmt(single['p50'])} | {fmt(single['p95'])} | {fmt(load['p50'])} "
            f"| {fmt(load['p95'])} |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4, as bench/run.py)")
    parser.add_argument("--users", type=int, default=20, help="simulated users (default 20)")
    parser.add_argument("--seconds", type=int, default=60, help="length of the loaded run (default 60)")
    parser.add_argument("--think", type=float, default=1.0, help="seconds between a user's requests (default 1)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--output", help="also write the result as JSON to this file")
    args = parser.parse_args()
    # A token is limited per minute (API_TOKEN_RATE); the simulated users share two tokens.
    os.environ["API_TOKEN_RATE"] = "1000000/min"
    configure()
    from cases.models import Agreement

    out = sys.stderr if args.markdown else sys.stdout
    with contextlib.redirect_stdout(out):
        agreements = Agreement.objects.count()
        if agreements == 0:
            sys.exit("No load data: run `python manage.py generate_load_data` first.")
        print(f"API benchmark on {os.environ['DATABASE_URL'].rsplit('/', 1)[-1]}: {agreements:,} agreements")
        load_before = os.getloadavg()
        administrator, made = make_tokens()
        keys = {role: created.key for role, created in made.items()}
        try:
            with Server(args.workers) as server:
                points = endpoints(server.port, keys)
                print("  1. one request at a time …", flush=True)
                single = unloaded(server, points, keys)
                print(f"  2. {args.users} users, about {args.think} s between requests, {args.seconds} s …", flush=True)
                under_load = loaded(server, points, keys, users=args.users, seconds=args.seconds, think=args.think)
        finally:
            revoke_tokens(administrator, made)
            print("  the benchmark's tokens are revoked", flush=True)
        result = {
            "when": time.strftime("%Y-%m-%d %H:%M %Z"),
            "agreements": agreements,
            "workers": args.workers,
            "think": args.think,
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "load_before": load_before,
            "load_after": os.getloadavg(),
            "endpoints": [{"key": p.key, "label": p.label, "role": p.role} for p in points],
            "single": single,
            "loaded": under_load,
        }
        if args.output:
            Path(args.output).write_text(json.dumps(result, indent=2))
        report(result)
    if args.markdown:
        print(markdown(result))


if __name__ == "__main__":
    main()
