"""Real processes for the tests of background work: the worker
(`manage.py run_worker`) against the test database, and an SMTP server
(tests/reliability/smtp_sink.py) that a test starts, slows down, lets
refuse a recipient, and stops."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(settings.BASE_DIR)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition, *, timeout, interval=0.1, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for: {message}")


def database_url():
    """The test database (pytest-django's), for processes of their own."""
    db = connection.settings_dict
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def environment(**extra):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url(),
        "PYTHONUNBUFFERED": "1",
        # Quick retries and a quick safety net, so that tests wait seconds, not minutes.
        "OUTBOX_RETRY_SECONDS": "0.5",
        "OUTBOX_RETRY_MAX_SECONDS": "1",
        "DELIVER_EMAILS_EVERY_SECONDS": "1",
        "OUTBOX_MAX_ATTEMPTS": "50",
    }
    env.update({key: str(value) for key, value in extra.items()})
    return env


class Worker:
    """`manage.py run_worker` as a process of its own."""

    def __init__(self, log_dir, *, name="worker", args=(), **env):
        self.log_path = Path(log_dir) / f"{name}.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "run_worker", "--interval", "0.2", "--tick", "0.5", *args],
            cwd=ROOT,
            env=environment(**env),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self):
        return self.process.pid

    def kill(self):
        """SIGKILL: no clean-up, as when a machine dies."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f"the worker did not stop on SIGTERM within 15 s:\n{self.output()}") from None
        self.log.close()

    def output(self):
        return self.log_path.read_text()


class SmtpServer:
    """aiosmtpd in a process of its own; ``messages()`` are those it accepted."""

    def __init__(self, port, log_path, *, delay_rcpt=0, delay_data=0, refuse=()):
        self.port, self.log_path = port, Path(log_path)
        args = [sys.executable, str(ROOT / "tests" / "reliability" / "smtp_sink.py"), str(port), str(log_path)]
        args += ["--delay-rcpt", str(delay_rcpt), "--delay-data", str(delay_data)]
        for address in refuse:
            args += ["--refuse", address]
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.process.stdout.readline()
        assert line.strip() == "ready", f"the SMTP server did not start: {line}"

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=10)

    def entries(self):
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line.strip()]

    def messages(self):
        return [entry for entry in self.entries() if entry["event"] == "data"]

    def copies_of(self, message_id):
        return sum(1 for entry in self.messages() if entry["message_id"] == message_id)
