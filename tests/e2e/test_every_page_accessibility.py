"""Every page, as each role that can reach it, in a real browser: axe-core finds
no violation of any impact (critical, serious, moderate or minor), with the
rules of WCAG 2.0/2.1 A and AA and axe's best practices (landmarks, heading
order, content outside a region, ...).

The pages are not a hand list: they are the URL walker's (tests/access), every
pattern of the URLconf filled with the ids of a Mora agreement and everything
hanging off it, plus a few addresses with a query (search results, filters, a
comparison, a form sent back with errors). Each role (a coordinator, Mora's
cultural head, an auditor, an administrator) has one browser context and
requests every address; every answer that is an HTML page (whatever its status:
the 403, 404 and 409 pages are pages too) is scanned. Django's admin site is
left out (Django's own pages, used by the administrators as a last resort).

The pages scanned are listed in test-artifacts/axe-every-page.txt."""

import datetime
import os
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.access.test_url_walker import all_patterns, category, urls_for
from tests.access.test_url_walker import world as world  # noqa: F401  (the walker's fixture)

from .helpers import describe

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "test-artifacts" / "axe-every-page.txt"
# Addresses that would sign the context out or change the language of the session.
NOT_VISITED = {"logout", "set_language", "admin:logout"}
# Statuses of a page that is meant to be read (anything else is a redirect or refusal without a page).
PROGRESS = os.environ.get("AXE_PROGRESS") == "1"  # print each address as it is visited
# While fixing: AXE_ONLY=/api/v1/docs/,/arbete/tackning/ scans only the addresses that contain one of these.
ONLY = [part for part in os.environ.get("AXE_ONLY", "").split(",") if part]
# Pages drawn by a script after loading (the API documentation): scanned once this is there.
RENDERED = {"/api/v1/docs/": ".swagger-ui .opblock"}
# What is not ours on them: Swagger UI's and Redoc's own rendering of the schema (heading
# levels that skip one, Swagger UI's second main landmark), left to those projects. Our page
# around them (language, main landmark, h1) is scanned.
NOT_OURS = {"/api/v1/docs/": ["#swagger-ui"]}
PAGE_STATUSES = {200, 400, 403, 404, 405, 409}


def extra_urls(world):
    """Addresses with a query: results, filters and views the bare pattern does not show."""
    mora = world["mora"]
    first_round = mora.revisions.order_by("round").first()
    when = (timezone.localtime() + datetime.timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M")
    urls = [
        reverse("workflows:search") + "?q=mora",
        reverse("workflows:search") + "?q=ingenting-alls-finns",
        reverse("workflows:agreements") + "?stage=approval&overdue=on",
        reverse("workflows:agreement_timeline", args=[mora.pk]) + "?kind=steps",
        reverse("workflows:agreement_as_of", args=[mora.pk]) + f"?tid={when}",
        reverse("workflows:agreement_as_of", args=[mora.pk]) + "?tid=igår",
        reverse("workflows:audit_log") + "?date_from=2026-05-01&date_to=2026-04-01",
        reverse("workflows:audit_log") + "?q=mora",
        reverse("background:outbox") + "?status=pending",
        reverse("workflows:verify_document") + "?code=fel",
        reverse("workflows:agreement", args=[999999]),
    ]
    if first_round is not None:
        urls.append(reverse("workflows:agreement_compare", args=[mora.pk]) + f"?left=rev-{first_round.pk}&right=draft")
    return urls


def every_address(world):
    seen = []
    for name, route, _pattern in all_patterns():
        kind = category(name, route)
        if kind in ("admin", "api") and name != "api:docs":
            continue
        if name in NOT_VISITED:
            continue
        if kind == "api":
            seen.append(reverse(name))
            continue
        for url in urls_for(name, route, world):
            if url not in seen:
                seen.append(url)
    return seen + extra_urls(world)


def test_every_page_as_every_role_has_no_axe_violation(
    world,  # noqa: F811
    context_for,
    live_server,
    axe_scan,
    coordinator,
    mora_head,
    auditor,
    administrator,
):
    people = {
        "coordinator": coordinator,
        "cultural head": mora_head,
        "auditor": auditor,
        "administrator": administrator,
    }
    addresses = [url for url in every_address(world) if not ONLY or any(part in url for part in ONLY)]
    problems, rows = [], []
    for who, user in people.items():
        page = context_for(user).new_page()
        for url in addresses:
            if PROGRESS:
                print(who, url, flush=True)
            # Asked first without the page (which would start a download, or fail on an empty answer).
            probe = page.context.request.get(live_server.url + url, max_redirects=0)
            if probe.status >= 500:
                problems.append(f"{who} {url}: {probe.status}")
                continue
            html = "text/html" in probe.headers.get("content-type", "") and b"<html" in probe.body()[:2000].lower()
            if probe.status not in PAGE_STATUSES or not html:
                continue
            response = page.goto(live_server.url + url)
            status = response.status
            if page.url.split(live_server.url, 1)[-1] != url and "/login/" in page.url:
                problems.append(f"{who} {url}: signed out")
                continue
            page.wait_for_load_state()
            if url in RENDERED:
                page.wait_for_selector(RENDERED[url])
            violations = axe_scan(page, exclude=NOT_OURS.get(url, ()))
            rows.append((who, url, status, sorted(v["id"] for v in violations)))
            if violations:
                problems.append(f"{who} {url} ({status}):\n{describe(violations)}")
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(
        "".join(f"{who}\t{url}\t{status}\t{','.join(rules) or '-'}\n" for who, url, status, rules in rows),
        encoding="utf-8",
    )
    assert ONLY or len(rows) > 4 * 30, f"only {len(rows)} pages scanned"
    assert not problems, f"{len(problems)} pages with problems:\n" + "\n\n".join(problems)
