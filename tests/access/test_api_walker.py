"""Every API endpoint × every kind of caller × every method.

Each endpoint (tests/access/api_policy.py says who may use it; a new one must
be added there) is filled with the ids of Mora's agreement and meeting and
requested with GET, POST, PUT, PATCH and DELETE (an empty JSON body) by:
anonymous, a deactivated user's session, sessions of the Falun cultural
head, a Mora official, a coordinator, an auditor and an administrator, and
tokens of Falun (cultural head), Mora (official), the coordinators and the
auditors, plus a revoked and an expired token.

- nobody ever gets a 5xx, and every answer is JSON (or the docs' HTML);
- without a valid session or token: 401/403 on everything;
- Falun's session and token: 404 (or 403/405) on everything of Mora's, and
  Mora's case number in no answer;
- a stored file (Mora's decision material, Mora's attachment) is answered
  only to Mora's readers, with a GET, byte for byte with its SHA-256 in the
  headers; every other answer is JSON;
- Mora's official (session and token), coordinators and auditors read all of it (200);
- the audit log: 403 for municipal callers and administrators;
- no request writes a row (the bodies are empty: a write is refused or invalid)."""

import datetime

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from accounts.services import user_deactivate
from api.services import token_revoke
from tests.access.api_policy import API_POLICY
from tests.access.test_url_walker import all_patterns, row_counts, world  # noqa: F401  (world: a fixture)
from tests.api.conftest import make_token
from tests.factories import municipality, region, user_with_role

pytestmark = pytest.mark.django_db
METHODS = ("get", "post", "put", "patch", "delete")
REFUSED_MORA = (403, 404, 405)


def test_every_api_pattern_is_in_the_policy_table():
    api = {name for name, route, _ in all_patterns() if route.startswith("api/")}
    assert api == set(API_POLICY), f"add to tests/access/api_policy.py: {sorted(api - set(API_POLICY))}"


def urls(name, objects):
    if name in ("api:agreement", "api:agreement_revisions", "api:agreement_follow_ups"):
        return [reverse(name, args=[objects["mora"].pk])]
    if name in (
        "api:agreement_open_steps",
        "api:agreement_events",
        "api:agreement_documents",
        "api:agreement_attachments",
        "api:agreement_decisions",
    ):
        return [reverse(name, args=[objects["mora"].pk])]
    if name == "api:document_file":
        return [reverse(name, args=[objects["document"].pk])]
    if name == "api:attachment_file":
        return [reverse(name, args=[objects["attachment"].pk])]
    if name == "api:meeting":
        return [reverse(name, args=[objects["meeting"].pk])]
    if name == "api:plan_period":
        return [reverse(name, args=[objects["mora"].plan_period_id])]
    if name == "api:agreements":
        mora = objects["mora"]
        return [
            reverse(name),
            f"{reverse(name)}?municipality={mora.municipality_id}",
            f"{reverse(name)}?plan_period={mora.plan_period_id}&stage={mora.stage}",
        ]
    return [reverse(name)]


def callers(objects, coordinator, auditor, falun_head, administrator):
    def session(user):
        client = Client(raise_request_exception=False)
        client.force_login(user)
        return client

    def token(organisation, role):
        return make_token(administrator, organisation, role).key

    def bearer(key):
        return Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {key}")

    deactivated = user_with_role(Role.CULTURAL_HEAD, "Mora")
    clients = {
        "anonymous": Client(raise_request_exception=False),
        "deactivated": session(deactivated),
        "falun_head": session(falun_head),
        "mora_official": session(user_with_role(Role.OFFICIAL, "Mora")),
        "coordinator": session(coordinator),
        "auditor": session(auditor),
        "administrator": session(administrator),
        "falun_token": bearer(token(municipality("Falun"), Role.CULTURAL_HEAD)),
        "mora_token": bearer(token(municipality("Mora"), Role.OFFICIAL)),
        "coordinator_token": bearer(token(region(), Role.COORDINATOR)),
        "auditor_token": bearer(token(region(), Role.AUDITOR)),
    }
    revoked = make_token(administrator, municipality("Mora"), Role.CULTURAL_HEAD)
    token_revoke(actor=administrator, token=revoked.token)
    clients["revoked_token"] = bearer(revoked.key)
    clients["expired_token"] = bearer(token(municipality("Mora"), Role.CULTURAL_HEAD))  # used 60 days on
    user_deactivate(actor=administrator, user=deactivated, reason="Slutat")
    return clients


def _is_the_file(raw, response, name, objects):
    """The answer is the stored file's bytes, with their SHA-256 in the headers."""
    record = objects["document"] if name == "api:document_file" else objects["attachment"]
    with record.file.storage.open(record.file.name, "rb") as stored:
        expected = stored.read()
    return raw == expected and response["X-Content-SHA256"] == record.sha256


UNAUTHENTICATED = ("anonymous", "deactivated", "revoked_token", "expired_token")
FALUN = ("falun_head", "falun_token")
MORA_READERS = ("mora_official", "mora_token", "coordinator", "coordinator_token", "auditor", "auditor_token")
NOT_AUDIT_READERS = ("falun_head", "falun_token", "mora_official", "mora_token", "administrator")


def test_walk_every_api_endpoint_as_every_caller(world, coordinator, auditor, falun_head, administrator):  # noqa: F811
    clients = callers(world, coordinator, auditor, falun_head, administrator)
    mora_case = world["mora"].case_number
    failures, tried = [], 0
    later = timezone.now() + datetime.timedelta(days=60)
    for name, route, _pattern in all_patterns():
        if not route.startswith("api/"):
            continue
        kind = API_POLICY[name]
        for url in urls(name, world):
            for who, client in clients.items():
                for method in METHODS:
                    before = row_counts() if method != "get" else None
                    call = getattr(client, method)
                    if who == "expired_token":
                        with time_machine.travel(later):
                            response = call(url, {}, content_type="application/json")
                    else:
                        response = call(url, {}, content_type="application/json")
                    tried += 1
                    code = response.status_code
                    raw = b"".join(response.streaming_content) if response.streaming else response.content
                    body = raw.decode("utf-8", "replace")
                    problem = None
                    if code >= 500:
                        problem = str(code)
                    elif (
                        kind == "mora_file"
                        and code == 200
                        and not (who in MORA_READERS and method == "get" and _is_the_file(raw, response, name, world))
                    ):
                        problem = f"200 {response['Content-Type']}: not the file, or not to this caller"
                    elif not (kind == "docs" or (kind == "mora_file" and code == 200)) and not response[
                        "Content-Type"
                    ].startswith("application/json"):
                        problem = f"{code} {response['Content-Type']} instead of JSON"
                    elif who in UNAUTHENTICATED and code not in (401, 403):
                        problem = f"{code} without a valid session or token"
                    elif who in FALUN and kind in ("mora", "mora_write", "mora_file") and code not in REFUSED_MORA:
                        problem = f"{code} on a Mora URL"
                    elif who in FALUN and mora_case in body:
                        problem = "Mora's case number shown to Falun"
                    elif who in NOT_AUDIT_READERS and kind == "reader" and code not in (403, 405):
                        problem = f"{code}: the audit log for a {who}"
                    elif who in NOT_AUDIT_READERS and kind == "reader" and method == "get" and code != 403:
                        problem = f"{code}: the audit log read by a {who}"
                    elif (
                        who in MORA_READERS
                        and kind in ("mora", "global", "mora_file")
                        and method == "get"
                        and code != 200
                    ):
                        problem = f"{code}: Mora's reader refused"
                    elif kind == "mora_write" and method == "get" and who not in UNAUTHENTICATED and code != 405:
                        problem = f"{code} on a GET of a write-only endpoint"
                    elif (
                        kind != "mora_write"
                        and method == "get"
                        and who not in UNAUTHENTICATED
                        and code not in (200, 403, 404)
                    ):
                        problem = f"{code} on a read"
                    if before is not None:
                        after = row_counts()
                        changed = {t: (before[t], after.get(t)) for t in before if before[t] != after.get(t)}
                        if changed:
                            problem = f"rows changed: {changed}"
                    if problem:
                        failures.append(f"{who} {method.upper()} {url} ({name}): {problem}")
    print(f"\nAPI walker: {tried} endpoint × caller × method combinations tried")
    assert failures == [], "\n".join(failures)
    assert tried > 500
