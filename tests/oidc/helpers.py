"""The real OpenID provider the tests sign in through: tests/oidc/provider.mjs
(the npm package oidc-provider) run with Node.js on a free local port.

``ProviderProcess`` starts and stops it and sets what it knows (clients,
accounts, who signs in next, a fault to inject) through its admin endpoint.
``sign_in_through`` walks the authorization code flow as a browser would:
our start page (Django's test client), the provider's pages (a real HTTP
client, with the provider's cookies), and back to our callback."""

import os
import secrets
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from django.urls import reverse

from accounts.providers import ProviderConfig, parse_rules

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "oidc" / "provider.mjs"
PACKAGE = ROOT / "node_modules" / "oidc-provider" / "package.json"
NODE = shutil.which("node") or "/usr/bin/node"
KEY = "test"
CLIENT_ID = "samverkan-test"
CLIENT_SECRET = "test-client-secret-0123456789"
TEST_SERVER_CALLBACK = f"http://testserver/konto/oidc/{KEY}/callback/"


def missing(what, how):
    message = f"{what} is missing: run `{how}` (`make test` does it)."
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ProviderProcess:
    def __init__(self, port=None):
        if not Path(NODE).is_file():
            missing("Node.js", "make js-deps")
        if not PACKAGE.is_file():
            missing("oidc-provider (node_modules)", "make js-deps")
        self.port = port or free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.admin_token = secrets.token_hex(16)
        self.process = None
        self.redirect_uris = [TEST_SERVER_CALLBACK]
        self.start()

    def start(self):
        self.process = subprocess.Popen(
            [NODE, str(SCRIPT), "--port", str(self.port), "--admin-token", self.admin_token],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if "listening on" in line:
                break
            if not line and self.process.poll() is not None:
                raise RuntimeError(f"the test provider did not start (exit {self.process.returncode})")
        else:
            self.stop()
            raise RuntimeError("the test provider did not start within 20 s")
        # Keep reading what it prints, so that a full pipe never blocks it.
        threading.Thread(target=self.process.stdout.read, daemon=True).start()
        self.reset()

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    # -- what the provider knows --------------------------------------------

    def _state(self, **state):
        response = requests.put(
            f"{self.issuer}/__test__/state",
            json=state,
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()

    def reset(self):
        self._state(
            clients=[{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": self.redirect_uris}],
            accounts={},
            next=None,
            fault=None,
        )

    def allow_redirect(self, uri):
        if uri not in self.redirect_uris:
            self.redirect_uris.append(uri)
        self._state(
            clients=[{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": self.redirect_uris}]
        )

    def person(self, sub, *, email, name, groups=()):
        """An account at the provider (replacing any with the same ``sub``)."""
        accounts = requests.get(
            f"{self.issuer}/__test__/state", headers={"Authorization": f"Bearer {self.admin_token}"}, timeout=10
        ).json()["accounts"]
        accounts[sub] = {"email": email, "email_verified": True, "name": name, "groups": list(groups)}
        self._state(accounts=accounts)

    def signs_in_next(self, sub, *, amr=("pwd",), acr=None):
        """Who the provider signs in when it is next asked to (and how)."""
        self._state(next={"sub": sub, "amr": list(amr), **({"acr": acr} if acr else {})})

    def fault(self, name):
        """Rewrite the next ID token: issuer, audience, nonce, signature or expired."""
        self._state(fault=name)

    def config(self, *, rules="", **overrides):
        """The ProviderConfig of Samverkan's settings for this provider."""
        values = {
            "key": KEY,
            "name": "Testleverantören",
            "issuer": self.issuer,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "domains": ("falun.se", "mora.se", "regiondalarna.se"),
            "rules": parse_rules(rules),
            "timeout": 5.0,
        }
        values.update(overrides)
        return ProviderConfig(**values)


def follow_provider(location, *, stop_at):
    """Follow the provider's redirects (a fresh browser: no provider session)
    until it sends the browser to ``stop_at``; return that URL."""
    browser = requests.Session()
    for _hop in range(12):
        if location.startswith(stop_at):
            return location
        response = browser.get(location, allow_redirects=False, timeout=10)
        assert response.status_code in (302, 303), (response.status_code, response.text[:500])
        location = response.headers["Location"]
        if location.startswith("/"):
            parts = urlsplit(response.url)
            location = f"{parts.scheme}://{parts.netloc}{location}"
    raise AssertionError(f"the provider never sent the browser back: {location}")


def provider_round_trip(client, *, next_url=None):
    """Our start page, then the provider: returns the callback URL (path and
    query) the provider sends the browser back to, not yet followed."""
    start = reverse("accounts:oidc_login", args=[KEY]) + (f"?next={next_url}" if next_url else "")
    response = client.get(start)
    assert response.status_code == 302, response.content.decode()[:500]
    back = follow_provider(response["Location"], stop_at="http://testserver/")
    parts = urlsplit(back)
    return f"{parts.path}?{parts.query}"


def sign_in_through(client, *, next_url=None):
    """The whole flow; returns our callback's response."""
    return client.get(provider_round_trip(client, next_url=next_url))
