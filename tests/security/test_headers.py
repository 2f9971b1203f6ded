"""Production's security headers (CSP, framing, referrer, sniffing), pages that
obey the CSP, CSRF on every form, and GETs that change nothing."""

import importlib
import sys
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from cases.models import Stage
from tests.factories import agreement_in_stage
from tests.factories.accounts import PASSWORD
from tests.security.helpers import give_device, post_login
from tests.workflows.helpers import open_task, step_url

pytestmark = pytest.mark.django_db

PRODUCTION_ENV = {
    "SECRET_KEY": "header-test-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ",
    "ALLOWED_HOSTS": "samverkan.example.se",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/samverkan",
}


@pytest.fixture
def production(monkeypatch):
    """The production settings module, imported with test values for its
    required variables (it does not replace the running settings)."""
    for name, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(name, value)
    sys.modules.pop("config.settings.production", None)
    module = importlib.import_module("config.settings.production")
    yield module
    sys.modules.pop("config.settings.production", None)


@pytest.fixture
def production_headers(settings, production):
    """The running settings with production's middleware and header settings
    (not its HTTPS redirect: the test client speaks plain HTTP)."""
    settings.MIDDLEWARE = production.MIDDLEWARE
    for name in (
        "CONTENT_SECURITY_POLICY",
        "X_FRAME_OPTIONS",
        "SECURE_REFERRER_POLICY",
        "SECURE_CONTENT_TYPE_NOSNIFF",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    ):
        setattr(settings, name, getattr(production, name))
    return settings


def test_production_settings_declare_the_policy(production):
    directives = production.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["img-src"] == ["'self'", "data:"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["form-action"] == ["'self'"]
    assert directives["base-uri"] == ["'self'"]
    assert not any("unsafe" in source for sources in directives.values() for source in sources)
    assert "csp.middleware.CSPMiddleware" in production.MIDDLEWARE
    assert production.X_FRAME_OPTIONS == "DENY"
    assert production.SECURE_REFERRER_POLICY == "same-origin"
    assert production.SECURE_CONTENT_TYPE_NOSNIFF is True
    assert production.SECURE_HSTS_SECONDS >= 31_536_000
    assert production.SESSION_COOKIE_SECURE and production.CSRF_COOKIE_SECURE
    assert production.SAMVERKAN_REQUIRE_2FA_ROLES == ["coordinator", "administrator"]


def test_responses_carry_the_security_headers(client, production_headers, mora_head):
    for response in (client.get(reverse("login")), post_login(client, mora_head.email), client.get("/arbete/")):
        csp = response["Content-Security-Policy"]
        for directive in (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "frame-ancestors 'none'",
            "form-action 'self'",
            "base-uri 'self'",
        ):
            assert directive in csp
        assert response["X-Frame-Options"] == "DENY"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["X-Content-Type-Options"] == "nosniff"


class InlineCodeFinder(HTMLParser):
    """Collects what a CSP without 'unsafe-inline' would block."""

    def __init__(self):
        super().__init__()
        self.found = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=…>")
            if name == "style":
                self.found.append(f"<{tag} style=…>")
        if tag == "style":
            self.found.append("<style>")
        if tag == "script" and "src" not in attrs and attrs.get("type") not in ("application/json",):
            self.found.append("inline <script>")
        for name in ("href", "src", "action"):
            if (attrs.get(name) or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}=javascript:…>")


def inline_code(html):
    finder = InlineCodeFinder()
    finder.feed(html)
    return finder.found


def test_the_pages_have_no_inline_scripts_or_styles(client, two_factor_on, coordinator, mora_head):
    """What the policy would block: inline <script>, on*= handlers, style=
    attributes and <style> elements. The main pages of every kind."""
    agreement = agreement_in_stage(Stage.REVIEW, "Mora", coordinator=coordinator, head=mora_head)
    task = open_task(agreement, "review")
    pages = {"login": client.get(reverse("login"))}
    give_device(mora_head)
    post_login(client, mora_head.email)
    pages["verify"] = client.get(reverse("accounts:two_factor_verify"))
    from tests.security.helpers import verify_otp

    verify_otp(client, mora_head)
    for name, url in {
        "inbox": reverse("workflows:inbox"),
        "agreements": reverse("workflows:agreements"),
        "agreement": reverse("workflows:agreement", args=[agreement.pk]),
        "step": step_url(task),
        "two_factor": reverse("accounts:two_factor"),
        "setup": reverse("accounts:two_factor_setup"),
    }.items():
        pages[name] = client.get(url)
    for name, response in pages.items():
        assert response.status_code == 200, name
        assert inline_code(response.content.decode()) == [], name


@pytest.mark.usefixtures("axes_on")
def test_the_lockout_page_has_no_inline_code(client, mora_head):
    for _ in range(5):
        response = post_login(client, mora_head.email, "wrong")
    assert response.status_code == 429
    assert inline_code(response.content.decode()) == []


def test_posts_without_a_csrf_token_are_refused(coordinator, mora_head):
    agreement = agreement_in_stage(Stage.DRAFTING, "Mora", coordinator=coordinator, head=mora_head)
    url = step_url(open_task(agreement, "draft"))

    browser = Client(enforce_csrf_checks=True)
    assert post_login(browser, mora_head.email).status_code == 403
    assert "_auth_user_id" not in browser.session

    browser.force_login(coordinator)
    before = agreement.history.count()
    assert browser.post(url, {"title": "Utan token", "save": "1"}).status_code == 403
    assert browser.post(reverse("accounts:two_factor_setup"), {"code": "123456"}).status_code == 403
    assert browser.post(reverse("logout")).status_code == 403
    assert agreement.history.count() == before

    # With the token from the form the same login goes through (so the 403 above was CSRF's).
    browser.logout()
    browser.get(reverse("login"))
    token = browser.cookies["csrftoken"].value
    response = browser.post(
        reverse("login"), {"username": mora_head.email, "password": PASSWORD, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302


def table_fingerprints():
    """A checksum of every row of every table but the sessions'."""
    fingerprints = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            if table == "django_session":
                continue
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {quoted} t")
            fingerprints[table] = cursor.fetchone()
    return fingerprints


@pytest.mark.usefixtures("axes_on", "two_factor_on")
def test_gets_of_the_sign_in_pages_change_no_rows(coordinator, mora_head):
    give_device(coordinator)
    anonymous, unverified, head = Client(), Client(), Client()
    unverified.force_login(coordinator)  # has an app, not verified yet: the code step
    head.force_login(mora_head)  # no app: the voluntary set-up page
    before = table_fingerprints()

    pages = [reverse("login"), reverse("accounts:two_factor"), reverse("accounts:two_factor_setup")]
    for url in [*pages, reverse("accounts:two_factor_verify")]:
        assert anonymous.get(url).status_code in (200, 302), url
    for url in [*pages, reverse("accounts:two_factor_verify"), reverse("workflows:inbox")]:
        assert unverified.get(url).status_code in (200, 302), url
    assert unverified.get(reverse("accounts:two_factor_disable")).status_code in (302, 405)
    for url in [*pages[1:], reverse("workflows:inbox")]:
        assert head.get(url).status_code == 200, url
    assert head.get(reverse("accounts:two_factor_disable")).status_code == 405

    assert table_fingerprints() == before


def test_signed_in_pages_and_downloads_are_not_kept_by_the_browser(client, production_headers, coordinator, auditor):
    """A shared municipal PC must not keep agreements, the audit log or an
    attachment in its cache after sign-out (every signed-in page is also
    checked by the URL walker, tests/access)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from cases.agreements import services
    from cases.models import Attachment

    agreement = agreement_in_stage(Stage.REVIEW, "Mora", coordinator=coordinator)
    services.attachment_add(
        actor=coordinator,
        agreement=agreement,
        uploaded=SimpleUploadedFile("bilaga.pdf", b"%PDF-1.4 x", content_type="application/pdf"),
    )
    attachment = Attachment.objects.get(agreement=agreement)
    assert post_login(client, coordinator.email).status_code == 302
    for url in (
        reverse("workflows:inbox"),
        reverse("workflows:agreement", args=[agreement.pk]),
        reverse("workflows:attachment", args=[attachment.pk]),
        reverse("workflows:audit_log"),
        reverse("workflows:audit_export_csv"),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"], url
        assert "private" in response["Cache-Control"], url
    logout = client.post(reverse("logout"))
    assert "no-store" in logout["Cache-Control"]  # the answer to the one who was signed in
