"""The API's documentation page (Swagger UI, from
drf-spectacular-sidecar) in a real browser under production's
Content-Security-Policy: signed in, each page renders the API's operations,
and the browser reports no CSP violation (``securitypolicyviolation``), no
console error about one, and makes no request to another host.

The test settings carry no CSP; production's does (config/settings/production.py).
So the pages are served here by a second live server started inside the test
with production's CSP middleware and policy (the session cookie of the usual
live server's sign-in is valid on it: same host, same database)."""

import importlib
import sys
from urllib.parse import urlsplit

import pytest
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.test.testcases import LiveServerThread

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PRODUCTION_ENV = {
    "SECRET_KEY": "api-docs-test-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ",
    "ALLOWED_HOSTS": "samverkan.example.se",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/samverkan",
}
CSP_MIDDLEWARE = "csp.middleware.CSPMiddleware"
# Collects every violation the page reports, from the start of the document.
LISTEN = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', e => window.__violations.push(
    {directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample, source: e.sourceFile}));
"""


@pytest.fixture
def csp_server(settings, monkeypatch):
    """A live server with production's CSP middleware (where production puts
    it) and policy; its base URL."""
    for name, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(name, value)
    sys.modules.pop("config.settings.production", None)
    try:
        production = importlib.import_module("config.settings.production")
    finally:
        sys.modules.pop("config.settings.production", None)
    assert CSP_MIDDLEWARE in production.MIDDLEWARE
    middleware = [m for m in settings.MIDDLEWARE if m != CSP_MIDDLEWARE]
    middleware.insert(middleware.index("django.middleware.security.SecurityMiddleware") + 1, CSP_MIDDLEWARE)
    settings.MIDDLEWARE = middleware
    settings.CONTENT_SECURITY_POLICY = production.CONTENT_SECURITY_POLICY
    server = LiveServerThread("localhost", StaticFilesHandler, port=0)  # static files from the finders
    server.daemon = True
    server.start()
    server.is_ready.wait()
    if server.error:
        raise server.error
    yield f"http://localhost:{server.port}"
    server.terminate()


def open_page(context, url):
    """The page at ``url``; (page, its first response, console errors, requests to other hosts)."""
    own = urlsplit(url).netloc
    elsewhere, console = [], []

    def route(route):
        if urlsplit(route.request.url).netloc != own:
            elsewhere.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    page = context.new_page()
    page.route("**/*", route)
    page.add_init_script(LISTEN)
    page.on("console", lambda message: message.type == "error" and console.append(message.text))
    response = page.goto(url)
    return page, response, console, elsewhere


def render(page, path, operation, console, elsewhere):
    """Wait for the operation to be drawn; the page's text."""
    try:
        page.wait_for_selector(operation, state="attached")
    except Exception as exc:
        raise AssertionError(
            f"{path} did not render: {page.inner_text('body')[:500]!r} "
            f"violations {page.evaluate('window.__violations')} console {console} elsewhere {elsewhere}"
        ) from exc
    text = page.inner_text("body")
    for words in ("/api/v1/agreements/", "/api/v1/documents/{id}/file/", "/api/v1/audit-log/"):
        assert words in text, words
    page.wait_for_timeout(500)  # a late style or worker would report its violation by now
    return text


def strict_policy(response):
    policy = response.headers["content-security-policy"]
    assert "style-src 'self'" in policy and "script-src 'self'" in policy and "unsafe" not in policy, policy
    return policy


def test_swagger_ui_renders_with_no_violation(csp_server, context_for, coordinator, screenshot):
    page, response, console, elsewhere = open_page(context_for(coordinator), csp_server + "/api/v1/docs/")
    strict_policy(response)
    render(page, "/api/v1/docs/", "#operations-agreements-agreements_list", console, elsewhere)
    screenshot(page, "api-docs-swagger")
    assert page.evaluate("window.__violations") == []
    assert [m for m in console if "Content Security Policy" in m or "Refused" in m] == []
    assert elsewhere == []
