"""The benchmark's simulated users, for Locust (run headless by bench/run.py).

bench/run.py signs the users in (sessions made directly for them), writes a
plan (the pages and their paths, each user's sessions, the pause between
requests; bench/api.py gives the headers of its integration tokens instead
of sessions) to the file BENCH_LOCUST_PLAN names, and runs

    python -m locust -f bench/locustfile.py --headless --users N --run-time S --host http://127.0.0.1:PORT

Paced (a pause given): each user waits a random part of the pause, then
requests the pages in an order of its own, pausing 0.8–1.2 times the pause
between requests. Back to back (no pause): user n requests the pages in turn
from page n, without a pause. Every response time is written, unrounded, to
the file BENCH_LOCUST_SAMPLES names when the run stops: bench/run.py computes
the percentiles from them (Locust's own statistics round response times over
100 ms to 10 ms, too coarse for a 100 ms target)."""

import itertools
import json
import os
import random
import time
from pathlib import Path

from locust import between, constant, events, task
from locust.contrib.fasthttp import FastHttpUser

PLAN = json.loads(Path(os.environ["BENCH_LOCUST_PLAN"]).read_text())
PAGES = PLAN["pages"]  # [{"key", "role", "paths"}]
THINK = PLAN["think"]
_numbers = itertools.count()
_turns = {page["key"]: itertools.count() for page in PAGES}  # each page's paths in turn, over all users
samples = {page["key"]: [] for page in PAGES}
errors = {page["key"]: 0 for page in PAGES}
clock = {}


def path(page):
    return page["paths"][next(_turns[page["key"]]) % len(page["paths"])]


class BenchUser(FastHttpUser):
    wait_time = between(0.8 * THINK, 1.2 * THINK) if THINK else constant(0)

    def on_start(self):
        self.number = next(_numbers)
        if "headers" in PLAN:  # bench/api.py: the same integration tokens for every user
            self.headers = PLAN["headers"]
        else:
            sessions = PLAN["users"][self.number % len(PLAN["users"])]
            self.headers = {
                role: {"Cookie": f"sessionid={key}; csrftoken={PLAN['csrf']}", "Accept-Encoding": "identity"}
                for role, key in sessions.items()
            }
        if THINK:
            rng = random.Random(self.number)
            self.order = list(PAGES)
            rng.shuffle(self.order)
            self.turn = 0
            time.sleep(rng.uniform(0, THINK))  # gevent's sleep: Locust patches time
        else:
            self.order, self.turn = PAGES, self.number

    @task
    def request_a_page(self):
        page = self.order[self.turn % len(self.order)]
        self.turn += 1
        with self.client.get(
            path(page), name=page["key"], headers=self.headers[page["role"]], catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")


@events.request.add_listener
def _sample(name, response_time, exception, **kwargs):
    if exception is None:
        samples[name].append(response_time)
    else:
        errors[name] += 1


@events.test_start.add_listener
def _start(**kwargs):
    clock["start"] = time.monotonic()


@events.test_stop.add_listener
def _stop(**kwargs):
    result = {"seconds": time.monotonic() - clock["start"], "samples": samples, "errors": errors}
    Path(os.environ["BENCH_LOCUST_SAMPLES"]).write_text(json.dumps(result))
