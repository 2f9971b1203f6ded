"""The search page at the load data (manage.py generate_load_data: 100,000
agreements), as a coordinator (sees everything) and as Falun's cultural head
(sees Falun only): the whole page through Django's test client (session,
query, ranking, highlights, template), each query ROUNDS times, p50 and p95.

    .venv/bin/python bench/search.py                       # DATABASE_URL, default samverkan_load
    .venv/bin/python bench/search.py --rounds 50

The machine may be shared: the figures move with the load of other work on it
(the load average is printed beside them), so the page without a query is
measured too, as the floor; and search() alone (the queries and highlights,
without the page around them). Target: p95 <= 100 ms.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/samverkan_load"

# Rare words, common words (the generator's texts repeat, so these match tens of
# thousands of rows), municipality names without accents, a case number, a phrase.
QUERIES = [
    "",  # the page without a query: the floor (session, sign-in, template) on this machine now
    "borlange",
    "rattvik",
    "falun",
    "kultur",
    "samverkan",
    "bibliotek",
    "kulturskola",
    '"regional kulturdialog"',
    "nätverk -bibliotek",
    "xyzzy",
]


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()

    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import logging

    logging.getLogger("samverkan.requests").setLevel(logging.WARNING)
    from django.conf import settings
    from django.test import Client
    from django.urls import reverse

    from accounts.models import Membership, Role
    from cases.models import Agreement
    from cases.search.selectors import search

    settings.ALLOWED_HOSTS = ["testserver"]
    url = reverse("workflows:search")
    users = {
        "coordinator": Membership.objects.filter(role=Role.COORDINATOR, is_active=True).first().user,
        "Falun's cultural head": Membership.objects.filter(
            role=Role.CULTURAL_HEAD, is_active=True, organisation__name="Falun"
        )
        .first()
        .user,
    }
    print(f"{Agreement.objects.count():,} agreements; {args.rounds} rounds per query; load average {os.getloadavg()}")
    print(f"{'user':24} {'query':26} {'hits':>5} {'p50 ms':>8} {'p95 ms':>8} {'search() p50':>13} {'p95':>6}")
    overall = {}
    for label, user in users.items():
        client = Client()
        client.force_login(user)
        times = overall.setdefault(label, [])
        for q in QUERIES:
            response = client.get(url, {"q": q})  # warm-up
            assert response.status_code == 200, (q, response.status_code)
            hits = response.content.decode().count('<span class="kind">')
            own = []
            for _round in range(args.rounds):
                started = time.perf_counter()
                client.get(url, {"q": q})
                own.append((time.perf_counter() - started) * 1000)
            times.extend(own)
            alone = []
            for _round in range(args.rounds):
                started = time.perf_counter()
                search(user, q)
                alone.append((time.perf_counter() - started) * 1000)
            print(
                f"{label:24} {q or '(none)':26} {hits:>5} {statistics.median(own):8.1f} {percentile(own, 0.95):8.1f}"
                f" {statistics.median(alone):13.1f} {percentile(alone, 0.95):6.1f}"
            )
    for label, times in overall.items():
        print(f"{label}: all queries p50 {statistics.median(times):.1f} ms, p95 {percentile(times, 0.95):.1f} ms")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
