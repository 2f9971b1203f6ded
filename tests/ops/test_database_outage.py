"""The database goes away under load and comes back: while it is away every
request fails cleanly (503, a Swedish page, Retry-After; /readyz says
"database"; /healthz stays 200), never a 500 or a dropped connection; when it
is back the same server serves again on its own, the user still signed in.

The app server is gunicorn with the production settings (kept connections,
CONN_MAX_AGE=60, health-checked), reaching PostgreSQL through a TCP proxy the
test stops and starts: stopping it cuts every open connection and refuses new
ones, as a restarting database does, without touching the shared cluster."""

import json
import re
import threading
import time

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection

from accounts.models import Role
from tests.factories import user_with_role
from tests.factories.accounts import PASSWORD

from .liveserver import Client, start_gunicorn, stop
from .tcpproxy import TcpProxy, free_port

# Committed data, which the server process reads; the reference data (municipalities) reloaded as in tests/reliability.
pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("empty_database_once"),
    pytest.mark.slow,
]

PAGES = ("/arbete/", "/arbete/overenskommelser/", "/readyz")


def database_url(port):
    settings = connection.settings_dict
    return f"postgres://{settings['USER'] or 'postgres'}@127.0.0.1:{port}/{settings['NAME']}"


def hammer(client_port, cookies, stop_event, seen, errors):
    """One user clicking around as fast as the server answers (bounded by the test's duration)."""
    client = Client(client_port, timeout=10)
    client.cookies = dict(cookies)
    for _ in range(2000):
        if stop_event.is_set():
            return
        for page in PAGES:
            started = time.monotonic()
            try:
                response = client.get(page)
            except OSError as exc:  # a dropped connection is not a clean failure
                errors.append(f"{page}: {exc!r}")
                continue
            seen.append((started, page, response.status))
            swedish = "tillfälligt otillgänglig" in response.text and response.headers["Retry-After"] == "10"
            if response.status == 503 and page != "/readyz" and not swedish:
                errors.append(f"{page}: a 503 without the Swedish page: {response.text[:200]}")


def test_database_restart_under_load(tmp_path):
    user = user_with_role(Role.CULTURAL_HEAD, "Mora", full_name="Lars Mora")
    user.password = PBKDF2PasswordHasher().encode(PASSWORD, "outagetestsalt", iterations=1000)
    user.save()
    settings = connection.settings_dict
    proxy = TcpProxy(settings["HOST"] or "127.0.0.1", int(settings["PORT"] or 5432)).start()
    port = free_port()
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    server = start_gunicorn(
        port,
        database_url(proxy.port),
        log_path=tmp_path / "gunicorn.log",
        extra_env={"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
    )
    output = ""
    try:
        client = Client(port)
        client.login(user.email, PASSWORD)
        assert client.get("/arbete/").status == 200
        assert client.get("/readyz").status == 200

        seen, errors, done = [], [], threading.Event()
        users = [threading.Thread(target=hammer, args=(port, client.cookies, done, seen, errors)) for _ in range(3)]
        for thread in users:
            thread.start()
        time.sleep(1.0)

        proxy.stop()  # the database "restarts": every connection cut, new ones refused
        down_at = time.monotonic()
        time.sleep(2.5)
        during = client.get("/arbete/")
        assert during.status == 503
        assert "Samverkan är tillfälligt otillgänglig" in during.text
        assert "Ingenting av det du gjorde sparades" in during.text
        assert during.headers["Retry-After"] == "10"
        assert during.headers["X-Request-ID"]
        ready = client.get("/readyz")
        assert ready.status == 503 and json.loads(ready.body) == {"status": "unavailable", "failing": ["database"]}
        assert client.get("/healthz").status == 200  # the process itself is fine

        proxy.start()  # back, on the same address
        up_at = time.monotonic()
        deadline = up_at + 15
        while client.get("/arbete/").status != 200:
            assert time.monotonic() < deadline, "the server did not recover on its own"
            time.sleep(0.2)
        recovered_after = time.monotonic() - up_at
        time.sleep(1.0)
        done.set()
        for thread in users:
            thread.join(timeout=30)

        answered_503 = sum(status == 503 for _at, _page, status in seen)
        print(f"{len(seen)} requests, {answered_503} answered 503; recovered in {recovered_after:.2f} s")
        assert not errors, errors[:5]
        statuses = {status for _at, _page, status in seen}
        assert statuses <= {200, 503}, statuses
        assert any(status == 503 for at, _p, status in seen if down_at < at < up_at)
        # every request that started once the server had recovered was served
        late = [status for at, _p, status in seen if at > up_at + recovered_after + 0.5]
        assert late and set(late) == {200}
        assert client.get("/arbete/").status == 200  # still signed in: the session outlived the outage

        # Prometheus saw it too, added up over the two gunicorn worker processes (a request that failed
        # before its URL was resolved is counted under view="<unmatched>")
        metrics = Client(port).get("/metrics").text
        counted = {}
        for status, value in re.findall(
            r'samverkan_http_requests_total\{method="GET",status="(\d+)",view="[^"]*"\} (\S+)', metrics
        ):
            counted[status] = counted.get(status, 0) + float(value)
        pages = [status for _at, page, status in seen if page != "/readyz"]  # probes are not counted
        assert counted["503"] >= pages.count(503) > 0 and counted["200"] >= pages.count(200) > 0
    finally:
        proxy.stop()
        output = stop(server)

    # the server's log is one JSON object per line, each 503 with its request id
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    failures = [line for line in lines if line.get("logger") == "samverkan.requests" and line.get("status") == 503]
    assert failures and all(line["request_id"] for line in failures)
    # one short line per failed request while the database is away, not a traceback each
    errors = [
        line
        for line in lines
        if line.get("logger") == "django.request" and line.get("status_code") == 503 and "readyz" not in line["message"]
    ]
    assert errors and all("exception" not in line and line["error"] for line in errors)
    assert any("Connection refused" in line["error"] for line in errors)
