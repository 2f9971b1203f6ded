"""The API over HTTP, as integration tokens and as people with a session:
scoped like the pages, errors as JSON in the caller's language, nothing
written by a refused request."""

import json

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from accounts import audit_reasons as reasons
from accounts.models import Role
from api.models import IntegrationToken, IntegrationTokenUse
from api.services import token_revoke
from cases.models import Agreement, Stage
from tests.api.conftest import make_token, token_client
from tests.factories import agreement_in_stage, current_period, municipality, region

pytestmark = pytest.mark.django_db
AGREEMENTS = "/api/v1/agreements/"


@pytest.fixture
def two(coordinator, falun_head, mora_head):
    return {
        "falun": agreement_in_stage(Stage.REVIEW, "Falun", coordinator=coordinator, head=falun_head),
        "mora": agreement_in_stage(Stage.APPROVAL, "Mora", coordinator=coordinator, head=mora_head),
    }


def ids(response):
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_a_falun_token_sees_falun_only(two, falun_token):
    client = token_client(falun_token.key)
    assert ids(client.get(AGREEMENTS)) == {two["falun"].pk}
    assert client.get(f"{AGREEMENTS}{two['falun'].pk}/").json()["case_number"] == two["falun"].case_number
    for suffix in ("", "revisions/", "follow-ups/", "open-steps/", "events/"):
        response = client.get(f"{AGREEMENTS}{two['mora'].pk}/{suffix}")
        assert response.status_code == 404, (suffix, response.content)
        assert response.json()["field"] is None
    assert ids(client.get(AGREEMENTS, {"municipality": municipality("Mora").pk})) == set()
    names = {o["name"] for o in client.get("/api/v1/organisations/").json()}
    assert "Falun" in names and "Mora" not in names
    assert client.get("/api/v1/audit-log/").status_code == 403


def test_an_auditor_token_reads_everything_and_writes_nothing(two, auditor_token):
    client = token_client(auditor_token.key)
    assert ids(client.get(AGREEMENTS)) == {two["falun"].pk, two["mora"].pk}
    log = client.get("/api/v1/audit-log/")
    assert log.status_code == 200 and log.json()["results"]
    before = Agreement.objects.count()
    body = {"municipality": municipality("Leksand").pk, "plan_period": current_period().pk, "title": "Nytt"}
    response = client.post(AGREEMENTS, body, content_type="application/json")
    assert response.status_code == 403
    assert Agreement.objects.count() == before


def test_filters_and_keyset_pages(two, coordinator_token):
    client = token_client(coordinator_token.key)
    assert ids(client.get(AGREEMENTS, {"stage": Stage.REVIEW})) == {two["falun"].pk}
    assert ids(client.get(AGREEMENTS, {"municipality": municipality("Mora").pk})) == {two["mora"].pk}
    assert ids(client.get(AGREEMENTS, {"changed_since": "2999-01-01T00:00:00Z"})) == set()
    first = client.get(AGREEMENTS, {"page_size": 1}).json()
    assert len(first["results"]) == 1 and first["next"]
    second = client.get(first["next"]).json()
    assert {first["results"][0]["id"], second["results"][0]["id"]} == {two["falun"].pk, two["mora"].pk}
    bad = client.get(AGREEMENTS, {"stage": "nope"})
    assert bad.status_code == 400 and bad.json()["field"] == "stage"
    assert client.get(AGREEMENTS, {"municipality": "x"}).json()["field"] == "municipality"


def test_audit_log_is_keyset_paginated_and_filtered_by_time(two, auditor_token):
    client = token_client(auditor_token.key)
    page = client.get("/api/v1/audit-log/").json()
    assert len(page["results"]) == 50 and page["next_cursor"]
    following = client.get("/api/v1/audit-log/", {"after": page["next_cursor"]}).json()
    assert following["results"][0]["at"] <= page["results"][-1]["at"]
    seen = {(r["kind"], r["history_id"]) for r in page["results"]}
    assert not seen & {(r["kind"], r["history_id"]) for r in following["results"]}
    assert client.get("/api/v1/audit-log/", {"since": "2999-01-01T00:00:00Z"}).json()["results"] == []
    assert client.get("/api/v1/audit-log/", {"after": "rubbish"}).json()["field"] == "after"
    events = client.get(f"{AGREEMENTS}{two['mora'].pk}/events/").json()["results"]
    assert events and {e["agreement"] for e in events} == {two["mora"].pk}


def test_tokens_expired_revoked_or_wrong_get_401(two, administrator, falun_token):
    token = IntegrationToken.objects.get(pk=falun_token.token.pk)
    for header in ("Bearer svk_nope", "Bearer " + falun_token.key[:-2] + "xx", "Bearer a b"):
        response = Client(HTTP_AUTHORIZATION=header).get(AGREEMENTS)
        assert response.status_code == 401 and response.json()["message"], header
    assert token_client(falun_token.key).get(AGREEMENTS).status_code == 200
    assert IntegrationTokenUse.objects.get(token=token).last_used_at is not None
    token_revoke(actor=administrator, token=token)
    response = token_client(falun_token.key, "en").get(AGREEMENTS)
    assert response.status_code == 401 and response.json()["message"] == "The token has been revoked."
    with translation.override("sv"):  # reasons are written in the language of the moment: Swedish here
        expected = [str(reasons.INTEGRATION_TOKEN_REVOKED), str(reasons.INTEGRATION_TOKEN_CREATED)]
    assert [h.history_change_reason for h in IntegrationToken.history.filter(id=token.pk)] == expected
    # expired: move the clock past the expiry
    other = make_token(administrator, municipality("Falun"), Role.OFFICIAL, days=1)
    import time_machine
    from django.utils import timezone

    with time_machine.travel(timezone.now() + timezone.timedelta(days=2)):
        response = token_client(other.key, "sv").get(AGREEMENTS)
    assert response.status_code == 401 and response.json()["message"] == "Nyckeln har gått ut."


def test_only_administrators_create_tokens_and_with_a_token_role(administrator, coordinator):
    from django.core.exceptions import PermissionDenied, ValidationError

    with pytest.raises(PermissionDenied):
        make_token(coordinator, region(), Role.AUDITOR)
    with pytest.raises(ValidationError) as error:
        make_token(administrator, region(), Role.ADMINISTRATOR)
    assert "role" in error.value.message_dict
    with pytest.raises(ValidationError):
        make_token(administrator, region(), Role.AUDITOR, days=-1)
    with pytest.raises(ValidationError):  # a municipal role in the region: Membership.clean refuses
        make_token(administrator, region(), Role.CULTURAL_HEAD)
    assert not IntegrationToken.objects.exists()


def test_bad_bodies_get_4xx_json_and_nothing_written(coordinator_token, settings):
    client = token_client(coordinator_token.key, "en")
    before = Agreement.objects.count()
    good = {"municipality": municipality("Leksand").pk, "plan_period": current_period().pk, "title": "Nytt avtal"}
    cases = [
        ("{not json", 400, None),
        (json.dumps([1, 2]), 400, None),
        (json.dumps({**good, "colour": "red"}), 400, "colour"),
        (json.dumps({**good, "municipality": "Leksand"}), 400, "municipality"),
        (json.dumps({**good, "title": ["x"]}), 400, "title"),
        (json.dumps({**good, "title": "x" * 301}), 400, "title"),
        (json.dumps({**good, "municipality": 999999}), 400, "municipality"),
        (json.dumps({**good, "municipality": municipality("Mora").pk + 10**12}), 400, "municipality"),
        (json.dumps({**good, "title": "x" * (settings.API_MAX_BODY_SIZE + 1)}), 413, None),
    ]
    for body, code, field in cases:
        response = client.post(AGREEMENTS, body, content_type="application/json")
        assert response.status_code == code, (body[:80], response.content)
        assert response.json()["field"] == field, (body[:80], response.json())
    response = client.post(AGREEMENTS, "a=b", content_type="text/plain")
    assert response.status_code == 415
    assert Agreement.objects.count() == before


def test_errors_follow_accept_language(coordinator_token):
    body = {"municipality": municipality("Leksand").pk, "plan_period": current_period().pk}
    english = token_client(coordinator_token.key, "en-GB,en;q=0.9").post(
        AGREEMENTS, body, content_type="application/json"
    )
    swedish = token_client(coordinator_token.key, "sv-SE").post(AGREEMENTS, body, content_type="application/json")
    default = token_client(coordinator_token.key).post(AGREEMENTS, body, content_type="application/json")
    assert english.json() == {
        "message": "This field is required.",
        "field": "title",
        "errors": [{"message": "This field is required.", "field": "title"}],
    }
    assert swedish.json()["message"] == "Detta fält måste fyllas i."
    assert default.json()["message"] == swedish.json()["message"]


def test_opening_through_the_api_refuses_what_the_page_refuses(two, coordinator_token, coordinator):
    client = token_client(coordinator_token.key, "en")
    body = {"municipality": municipality("Leksand").pk, "plan_period": current_period().pk, "title": "Leksands avtal"}
    response = client.post(AGREEMENTS, body, content_type="application/json")
    assert response.status_code == 201, response.content
    opened = Agreement.objects.get(pk=response.json()["id"])
    assert opened.title == "Leksands avtal" and opened.created_by.integration_token == coordinator_token.token
    # a second live agreement for the same municipality and period: the service refuses, as on the page
    again = client.post(AGREEMENTS, body, content_type="application/json")
    assert again.status_code == 400, again.content
    page = Client()
    page.force_login(coordinator)
    web = page.post(reverse("workflows:agreement_open"), body)
    assert web.status_code == 400
    assert Agreement.objects.filter(municipality__name="Leksand").count() == 1


def test_a_falun_token_may_not_open_agreements(falun_token):
    body = {"municipality": municipality("Falun").pk, "plan_period": current_period().pk, "title": "x"}
    response = token_client(falun_token.key).post(AGREEMENTS, body, content_type="application/json")
    assert response.status_code == 403 and not Agreement.objects.exists()


def test_a_session_reads_and_must_send_csrf(two, falun_head):
    client = Client(enforce_csrf_checks=True)
    client.force_login(falun_head)
    assert ids(client.get(AGREEMENTS)) == {two["falun"].pk}
    body = {"municipality": municipality("Falun").pk, "plan_period": current_period().pk, "title": "x"}
    assert client.post(AGREEMENTS, body, content_type="application/json").status_code == 403
    assert Client().get(AGREEMENTS).status_code in (401, 403)


def test_rate_limit_per_token(falun_token, auditor_token, settings):
    settings.API_TOKEN_RATE = "3/min"
    from django.core.cache import cache

    cache.clear()
    client = token_client(falun_token.key)
    codes = [client.get("/api/v1/plan-periods/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert token_client(auditor_token.key).get("/api/v1/plan-periods/").status_code == 200
    cache.clear()


def test_schema_and_documentation_are_served_without_a_cdn(coordinator):
    client = Client()
    client.force_login(coordinator)
    schema = client.get("/api/v1/schema/?format=json")
    assert schema.status_code == 200 and "/api/v1/agreements/" in schema.json()["paths"]
    for page in ("/api/v1/docs/",):
        html = client.get(page).content.decode()
        assert "static/drf_spectacular_sidecar" in html or "/static/" in html, html[:400]
        assert "cdn" not in html.lower() and "unpkg" not in html.lower()


def test_meetings_plan_periods_and_details(two, falun_token):
    client = token_client(falun_token.key)
    periods = client.get("/api/v1/plan-periods/").json()
    assert periods and "priorities" in periods[0]
    assert client.get(f"/api/v1/plan-periods/{periods[0]['id']}/").json()["id"] == periods[0]["id"]
    detail = client.get(f"{AGREEMENTS}{two['falun'].pk}/").json()
    assert detail["areas"] and detail["created_at"].endswith(("Z", "+00:00", "+01:00", "+02:00"))
    assert client.get(f"{AGREEMENTS}{two['falun'].pk}/revisions/").json()
    assert client.get(f"{AGREEMENTS}{two['falun'].pk}/open-steps/").json()[0]["step"]
    assert client.get("/api/v1/meetings/").status_code == 200


def test_attaching_a_file_as_on_the_page(two, falun_token, auditor_token, administrator):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from cases.models import Attachment

    url = f"{AGREEMENTS}{two['falun'].pk}/attachments/"

    def upload(key, name="bilaga.pdf", content=b"%PDF-1.4 x", target=url, **extra):
        return token_client(key, "en").post(
            target, {"file": SimpleUploadedFile(name, content, content_type="application/pdf"), **extra}
        )

    response = upload(falun_token.key)
    assert response.status_code == 201, response.content
    assert Attachment.objects.get(pk=response.json()["id"]).uploaded_by.integration_token == falun_token.token
    refused = [
        (upload(auditor_token.key), 403),  # reads only
        (upload(falun_token.key, target=f"{AGREEMENTS}{two['mora'].pk}/attachments/"), 404),  # Mora's
        (upload(falun_token.key, name="virus.exe", content=b"MZ\x90\x00"), 400),  # the page's type check
        (upload(falun_token.key, colour="red"), 400),
    ]
    for response, code in refused:
        assert response.status_code == code, response.content
        assert response.json()["message"]
    assert Attachment.objects.count() == 1
    empty = token_client(falun_token.key).post(url, {})
    assert empty.status_code == 400 and empty.json()["field"] == "file"


def test_recording_a_decision_as_the_decision_step_does(two, falun_token, coordinator_token, auditor_token, settings):
    from cases.models import Decision

    mora, falun = two["mora"], two["falun"]  # Mora awaits its decisions; Falun is in review
    opened_on = timezone.localdate(mora.created_at).isoformat()  # a decision cannot predate the agreement
    body = {
        "party": "region",
        "body": "Kultur- och bildningsnämnden",
        "meeting_date": opened_on,
        "paragraph": "§ 12",
        "outcome": "approved",
    }

    def post(key, agreement, data):
        return token_client(key, "en").post(
            f"{AGREEMENTS}{agreement.pk}/decisions/", data, content_type="application/json"
        )

    for key, agreement, data, code in [
        (auditor_token.key, mora, body, 403),  # reads only
        (falun_token.key, mora, {**body, "party": "municipality"}, 404),  # Mora's
        (falun_token.key, falun, {**body, "party": "municipality"}, 409),  # Falun is not at its decision
        (coordinator_token.key, mora, {**body, "party": "municipality"}, 403),  # the municipality's step
        (coordinator_token.key, mora, {**body, "meeting_date": "1999-01-01"}, 400),  # the page's date check
        (coordinator_token.key, mora, {**body, "outcome": "maybe"}, 400),
        (coordinator_token.key, mora, {**body, "minutes": "x"}, 400),  # unknown field
    ]:
        response = post(key, agreement, data)
        assert response.status_code == code, (data, response.content)
    assert not Decision.objects.filter(agreement=mora).exists()
    response = post(coordinator_token.key, mora, body)
    assert response.status_code == 201, response.content
    assert Decision.objects.get(agreement=mora).recorded_by.integration_token == coordinator_token.token
    assert post(coordinator_token.key, mora, body).status_code == 409  # taken already
