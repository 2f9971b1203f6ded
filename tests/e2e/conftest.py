"""Real-browser tests: Playwright driving Debian's chromium against a live server.

How an e2e test module starts::

    pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

and then asks for ``live_server``, ``page`` (anonymous, Swedish browser),
``context_for(user)`` (a browser context logged in as ``user``),
``axe_scan(page)`` and ``screenshot(page, name)``.

The database. The live server answers from its own thread with its own
connection, so it sees only committed rows: e2e tests are transactional, and a
transactional test ends by emptying every table (TRUNCATE). That would also
delete the reference data that our data migrations load (Region Dalarna, the
15 municipalities, plan periods and priorities, content types, permissions).
``serialized_rollback=True`` keeps it: pytest-django serialises the test
database once, right after migrating (only when a collected test asks for
it), and reloads that snapshot at the start of every such test. The tables
are emptied once before the first e2e test too, so that the snapshot is
always loaded into empty tables (see ``_empty_database_before_the_first_e2e_test``).
So each e2e test starts from exactly the migrated reference data, whatever
ran before it, and may create users and agreements with the usual factories;
they are committed at once and the live server sees them. pytest-django runs
transactional tests after all the others, so the emptied tables never reach
an ordinary test. A later transactional test that needs reference data must
also use ``serialized_rollback=True``.

The browser. ``make test`` installs Debian's chromium (``make browser-deps``)
and axe-core (``make js-deps``); Playwright's own browser downloads are never
used. When either is missing the tests are skipped with the command to run,
except under CI (``CI=true``), where they fail.
"""

import os
import re
import shutil
from pathlib import Path

import pytest
from django.urls import reverse

from tests.factories.accounts import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--lang=sv-SE",  # the browser's own widgets (date fields, file buttons) in Swedish too
]
# The rules of WCAG 2.0 and 2.1, levels A and AA, and axe's best practices (landmarks,
# heading order, content outside a region, ...): a violation of any impact fails (#18).
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
# A Swedish official's browser.
LOCALE = "sv-SE"
TIMEOUT_MS = 15_000


def _missing(what, how):
    """Skip on a developer's machine; fail in CI, where `make test` installs everything."""
    message = f"{what} is missing: run `{how}` (`make test` does it)."
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def _sync_playwright():
    """Playwright's entry point, once chromium and playwright are known to be
    there (checked before the test database is built, so a skip is quick)."""
    if not Path(CHROMIUM).is_file():
        _missing(f"Debian's chromium ({CHROMIUM})", "make browser-deps")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("The Python package playwright", "make dev-deps")
    return sync_playwright


@pytest.fixture(scope="package", autouse=True)
def _empty_database_before_the_first_e2e_test(_sync_playwright, django_db_setup, django_db_blocker):
    """Empty the tables once, before the first e2e test, as every e2e test does
    after itself. Each e2e test then reloads the snapshot into empty tables, by
    INSERT. Reloading it over the rows still there would UPDATE every row, and
    the values that come back differ (Django's JSON serialiser keeps
    milliseconds, not microseconds): the append-only history tables refuse that
    outside the audit maintenance session (cases/audit). post_migrate is not
    run, as in Django's own flush before a snapshot reload: it would recreate
    content types and permissions under new ids, colliding with the snapshot's."""
    from django.core.management import call_command
    from django.db import connections

    with django_db_blocker.unblock():
        for alias in connections:
            if hasattr(connections[alias], "_test_serialized_contents"):
                call_command("flush", database=alias, interactive=False, inhibit_post_migrate=True, verbosity=0)


@pytest.fixture(scope="package")
def browser(_sync_playwright, _empty_database_before_the_first_e2e_test):
    """One headless Debian chromium for all the e2e tests (pytest-django runs
    them one after another, with the other transactional tests).

    While Playwright's sync API is started it keeps an asyncio loop running in
    this thread, and Django reacts to that in two ways:
    - it refuses ORM calls from the thread (SynchronousOnlyOperation), so the
      test database is created first (``django_db_setup``) and the check is
      lifted exactly while Playwright runs (the test code stays synchronous);
    - it keeps database connections per asyncio context instead of per thread,
      so the tests get connection objects of their own, which lack the
      reference-data snapshot that pytest-django took on the first ones
      (``_test_serialized_contents``): it is handed over here, and those
      connections are closed before Playwright stops."""
    from django.db import connections

    snapshots = {
        alias: connections[alias]._test_serialized_contents
        for alias in connections
        if hasattr(connections[alias], "_test_serialized_contents")
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        playwright = _sync_playwright().start()
        try:
            for alias, snapshot in snapshots.items():
                connections[alias]._test_serialized_contents = snapshot
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
        finally:
            connections.close_all()
            playwright.stop()


def _new_context(browser, **kwargs):
    kwargs.setdefault("locale", LOCALE)
    context = browser.new_context(**kwargs)
    context.set_default_timeout(TIMEOUT_MS)
    return context


@pytest.fixture
def context(browser):
    """An anonymous browser context (Swedish browser), closed after the test."""
    context = _new_context(browser)
    yield context
    context.close()


@pytest.fixture
def page(context):
    return context.new_page()


@pytest.fixture
def context_for(browser, live_server):
    """``context_for(user)``: a new browser context, logged in as ``user``
    through the real login page, closed after the test."""
    contexts = []

    def make(user, password=PASSWORD, **kwargs):
        context = _new_context(browser, **kwargs)
        contexts.append(context)
        page = context.new_page()
        page.goto(live_server.url + reverse("login"))
        page.fill("input[name=username]", user.email)
        page.fill("input[name=password]", password)
        with page.expect_navigation():
            page.click("form:has(input[name=password]) button[type=submit]")
        if "/login/" in page.url:
            raise AssertionError(f"{user.email} could not log in: {page.inner_text('main')}")
        page.close()
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def axe_scan():
    """``axe_scan(page, exclude=())``: run axe-core on the page for WCAG 2.0/2.1
    A and AA and axe's best practices, leaving out the elements that match the
    CSS selectors in ``exclude``, and return its violations (dicts with id,
    impact, help, nodes, ...)."""
    if not AXE_JS.is_file():
        _missing(f"axe-core ({AXE_JS.relative_to(ROOT)})", "make js-deps")

    def scan(page, exclude=()):
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            page.add_script_tag(path=str(AXE_JS))
        result = page.evaluate(
            """([tags, exclude]) => axe.run(
                {include: [document], exclude: exclude.map(selector => [selector])},
                {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']},
            )""",
            [WCAG_TAGS, list(exclude)],
        )
        return result["violations"]

    return scan


@pytest.fixture
def screenshot():
    """``screenshot(page, name)``: save a full-page PNG under
    test-artifacts/screenshots/ and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name):
        path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
