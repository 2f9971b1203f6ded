"""/healthz, /readyz and /metrics as a load balancer and Prometheus use them,
the request id on every response and log line, and the JSON log format."""

import io
import json
import logging
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from prometheus_client import REGISTRY

from cases.models import Stage
from ops import health
from ops.logging import JsonFormatter, RequestIdFilter
from ops.requestid import current_request_id, request_id_context
from tests.factories import agreement_in_stage
from tests.workflows.helpers import login, open_task, step_url

pytestmark = pytest.mark.django_db


def sample(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def page_and_step_samples(view):
    return (
        sample("samverkan_http_requests_total", method="GET", view=view, status="200"),
        sample("samverkan_http_request_duration_seconds_count", method="GET", view=view),
        sample("samverkan_http_request_db_seconds_count", view=view),
        sample("samverkan_db_queries_total", view=view),
        sample("samverkan_workflow_steps_completed_total", step="review"),
    )


def test_healthz_answers_anyone_without_a_query_a_session_or_an_allowed_host(client):
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/healthz", HTTP_HOST="10.0.0.7:8000")  # a load balancer by address
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"
    assert not response.cookies
    assert len(queries) == 0


def test_readyz_runs_the_registered_checks_and_names_only_the_failing_ones(client, monkeypatch):
    response = client.get("/readyz", HTTP_HOST="10.0.0.7")
    assert response.status_code == 200 and response.json() == {"status": "ready"}
    assert list(health.registered_checks())[:2] == ["database", "migrations"]

    checks = {**health.registered_checks(), "worker_queue": lambda: "oldest job waiting 3600 s"}
    monkeypatch.setattr(health, "_checks", checks)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "failing": ["worker_queue"]}
    assert "3600" not in response.content.decode()  # the reason is logged, not shown


def test_when_the_database_is_away_readyz_names_only_the_database(client, monkeypatch):
    """Every other check reads the database too; naming them would point at
    the wrong cause (and vary with what each server process remembered)."""
    called = []

    def database_away():
        raise OSError("connection refused")

    checks = {"database": database_away, "migrations": lambda: called.append("migrations") or "unknown"}
    monkeypatch.setattr(health, "_checks", checks)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "failing": ["database"]}
    assert called == []


def test_the_migrations_check_notices_an_unapplied_migration():
    check = health._MigrationsApplied()
    assert check() is None
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM django_migrations WHERE app = 'storage' AND name = '0001_stored_files'")
    assert health._MigrationsApplied()() == "1 migrations not applied, e.g. ('storage', '0001_stored_files')"
    assert check() is None  # a check that once passed stays passed in its process


def test_metrics_only_for_allowed_addresses_and_never_through_the_proxy(client, settings):
    assert client.get("/metrics").status_code == 200  # the test client is 127.0.0.1
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.10").status_code == 404
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="192.0.2.10").status_code == 404
    settings.METRICS_ALLOWED_ADDRESSES = ["192.0.2.0/28", "2001:db8::/32"]
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.10").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="2001:db8::5").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.20").status_code == 404
    assert client.get("/metrics").status_code == 404
    settings.METRICS_ALLOWED_ADDRESSES = []
    assert client.get("/metrics").status_code == 404


def test_metrics_count_requests_latency_database_time_and_steps(
    client, coordinator, mora_head, django_capture_on_commit_callbacks
):
    agreement = agreement_in_stage(Stage.REVIEW, "Mora", coordinator=coordinator, head=mora_head)
    view = "workflows:agreement"
    before = page_and_step_samples(view)
    login(client, mora_head)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse(view, args=[agreement.pk])).status_code == 200
    page_queries = len(queries)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(step_url(open_task(agreement, "review")), {"verdict": "accept"})
    assert response.status_code == 302

    after = page_and_step_samples(view)
    assert after[0] - before[0] == 1
    assert after[1] - before[1] == 1
    assert after[2] - before[2] == 1
    assert after[3] - before[3] == page_queries  # every query of the page, and no query more
    assert after[4] - before[4] == 1

    text = client.get("/metrics").content.decode()
    for name in (
        "samverkan_http_requests_total",
        "samverkan_http_request_duration_seconds_bucket",
        "samverkan_http_request_db_seconds_bucket",
        "samverkan_workflow_steps_completed_total",
        "samverkan_emails_failed_total",
        "samverkan_webhooks_failed_total",
    ):
        assert name in text
    assert f'view="{view}"' in text
    assert str(agreement.pk) not in re.findall(r'view="([^"]*)"', text)  # labelled by URL name, not path


def test_the_request_id_is_passed_on_or_made_and_is_in_every_log_line(client, coordinator):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("samverkan.requests")
    logger.addHandler(handler)
    try:
        given = client.get("/login/", HTTP_X_REQUEST_ID="nginx-4f2a9c1e-77")
        made = client.get("/login/", HTTP_X_REQUEST_ID='bad"\n{"level": "CRITICAL"}')
        short = client.get("/login/", HTTP_X_REQUEST_ID="abc")
    finally:
        logger.removeHandler(handler)
    assert given["X-Request-ID"] == "nginx-4f2a9c1e-77"
    assert re.fullmatch(r"[0-9a-f]{32}", made["X-Request-ID"])
    assert re.fullmatch(r"[0-9a-f]{32}", short["X-Request-ID"])
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["request_id"] for line in lines] == [
        given["X-Request-ID"],
        made["X-Request-ID"],
        short["X-Request-ID"],
    ]
    first = lines[0]
    assert (first["level"], first["logger"], first["method"], first["path"], first["status"]) == (
        "INFO",
        "samverkan.requests",
        "GET",
        "/login/",
        200,
    )
    assert first["view"] == "login" and first["duration_ms"] >= 0 and first["user_id"] is None
    assert first["time"].endswith("+00:00")


def test_a_job_carries_its_request_id_into_its_log_lines():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("samverkan.test_job")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with request_id_context("req-from-the-request-0001"):
            queued_with = current_request_id()
        assert current_request_id() is None
        with request_id_context(queued_with):  # the worker, later, in another process
            logger.info("sent %s e-mails", 2, extra={"job": 17})
            try:
                raise ValueError("boom")
            except ValueError:
                logger.exception("job failed")
    finally:
        logger.removeHandler(handler)
    sent, failed = (json.loads(line) for line in stream.getvalue().splitlines())
    assert sent["request_id"] == failed["request_id"] == "req-from-the-request-0001"
    assert sent["message"] == "sent 2 e-mails" and sent["job"] == 17
    assert failed["level"] == "ERROR" and "ValueError: boom" in failed["exception"]


def test_behind_a_trusted_proxy_the_audit_trail_records_the_client(client, settings, mora_head):
    from accounts.models import SignInEvent
    from tests.factories.accounts import PASSWORD

    def sign_in(**headers):
        client.post(reverse("login"), {"username": mora_head.email, "password": PASSWORD}, **headers)
        client.logout()
        return SignInEvent.objects.filter(kind="login").latest("pk").ip

    forwarded = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.9, 198.51.100.4"}
    assert sign_in(**forwarded) == "127.0.0.1"  # no trusted proxy configured: the header is ignored
    settings.TRUSTED_PROXIES = ["127.0.0.1", "198.51.100.0/24"]
    assert sign_in(**forwarded) == "203.0.113.9"  # through two trusted proxies
    assert sign_in(REMOTE_ADDR="192.0.2.50", HTTP_X_FORWARDED_FOR="203.0.113.9") == "192.0.2.50"  # not a proxy
    assert sign_in(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="not-an-address") == "127.0.0.1"


def test_driver_errors_that_django_does_not_wrap_are_the_database_away_too():
    """A server-side cursor closed while the connection drops raises
    psycopg's own OperationalError (seen on the agreement list in the outage
    test): the 503 page, not the 500 one."""
    import psycopg
    from django.db import OperationalError

    from ops.errors import database_unavailable

    assert database_unavailable(psycopg.OperationalError("consuming input failed: server closed the connection"))
    assert database_unavailable(psycopg.InterfaceError("the connection is closed"))
    assert database_unavailable(OperationalError("connection refused"))
    assert not database_unavailable(psycopg.errors.UniqueViolation("duplicate key"))
    assert not database_unavailable(ValueError("a bug"))
