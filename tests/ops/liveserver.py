"""An app server as production runs it (gunicorn, config.settings.production)
in a subprocess, and a small HTTP client that keeps its cookies (the
production cookies are Secure; this client is the browser behind the TLS
proxy, so it sends them over the loopback's plain HTTP)."""

import http.client
import os
import re
import subprocess
import sys
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent.parent
SECRET = "live-server-test-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGH"


def start_gunicorn(port, database_url, *, log_path, workers=2, extra_env=None):
    """gunicorn on 127.0.0.1:port, its output (the JSON log) in ``log_path``
    (a file, not a pipe: a pipe nobody reads fills up and blocks the server)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": SECRET,
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url,
        "SECURE_SSL_REDIRECT": "False",
        "CONN_MAX_AGE": "60",
        "DB_CONNECT_TIMEOUT": "2",
        "LOG_FORMAT": "json",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": str(workers),
        **(extra_env or {}),
    }
    process = subprocess.Popen(
        # The production configuration (deploy/gunicorn.conf.py), a shorter graceful stop.
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--config=deploy/gunicorn.conf.py",
            "--graceful-timeout=2",
            "config.wsgi",
        ],
        cwd=ROOT,
        env=env,
        stdout=open(log_path, "w"),  # noqa: SIM115 (the child holds it; closed when it ends)
        stderr=subprocess.STDOUT,
    )
    process.log_path = log_path
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("gunicorn stopped: " + Path(log_path).read_text())
        try:
            if Client(port).get("/healthz").status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("gunicorn did not answer within 30 s")


def stop(process):
    """Stop the server; return its output."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    return Path(process.log_path).read_text()


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")


class Client:
    def __init__(self, port, timeout=15, host="127.0.0.1"):
        self.host = host
        self.port = port
        self.timeout = timeout
        self.cookies = {}

    def request(self, method, path, *, data=None, headers=None, body=None):
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if data is not None:
            body = urlencode(data)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=headers)
            raw = connection.getresponse()
            payload = raw.read()
            for header in raw.headers.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(header).items():
                    self.cookies[name] = morsel.value
            return Response(raw.status, raw.headers, payload)
        finally:
            connection.close()

    def post_file(self, path, fields, *, field, filename, content, content_type="application/pdf"):
        """A multipart/form-data POST: ``fields`` and one file, as a browser's form sends them."""
        boundary = "samverkan-test-" + os.urandom(8).hex()
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            for name, value in fields.items()
        ]
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n".encode()
            + content
            + f"\r\n--{boundary}--\r\n".encode()
        )
        return self.request(
            "POST", path, body=b"".join(parts), headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
        )

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, data, **kwargs):
        return self.request("POST", path, data=data, **kwargs)

    def login(self, email, password):
        page = self.get("/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        response = self.post("/login/", {"csrfmiddlewaretoken": token, "username": email, "password": password})
        assert response.status == 302, (response.status, response.text[:500])
        return response
