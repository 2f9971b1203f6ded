"""Query budgets of the API's lists: the same number of queries for one row
and for fifty (and never more than 15), as an integration token and as a
person with a session. The rows come from the load generator, as for the
pages (tests/perf/test_query_budgets.py)."""

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Organisation, Role
from api.services import token_create
from tests.factories import user_with_role
from tests.perf.test_query_budgets import assert_same_budget

pytestmark = pytest.mark.django_db


def token_client(role, organisation):
    administrator = user_with_role(Role.ADMINISTRATOR, region())
    created = token_create(
        actor=administrator,
        organisation=organisation,
        role=role,
        name="Mätning",
        expires_at=timezone.now() + datetime.timedelta(days=1),
    )
    return Client(HTTP_AUTHORIZATION=f"Bearer {created.key}")


def region():
    return Organisation.objects.get(name="Region Dalarna")


def expect_rows(one_count, many_count):
    def expect(one, many):
        import json

        assert len(json.loads(one)["results"]) == one_count
        assert len(json.loads(many)["results"]) == many_count

    return expect


def test_agreements_as_a_coordinator_token(load, django_assert_max_num_queries):
    load.agreements("in_force", 1)
    client = token_client(Role.COORDINATOR, region())

    def grow():
        for kind, n in (("drafting", 10), ("review", 10), ("approval", 10), ("signing", 9), ("in_force", 10)):
            load.agreements(kind, n)

    assert_same_budget(
        client,
        "/api/v1/agreements/",
        grow,
        expect=expect_rows(1, 50),
        django_assert_max_num_queries=django_assert_max_num_queries,
        rows_as_values=False,  # DRF serializers read instances; the queries are what is fixed here
    )


def test_agreements_of_a_cultural_head_with_a_session(client, load, django_assert_max_num_queries):
    municipality = load.municipality(0)
    load.agreements("withdrawn_review", 1, municipality=municipality)
    client.force_login(load.head_of(municipality))
    assert_same_budget(
        client,
        "/api/v1/agreements/",
        lambda: load.agreements("withdrawn_approval", 49, municipality=municipality),
        expect=expect_rows(1, 50),
        django_assert_max_num_queries=django_assert_max_num_queries,
        rows_as_values=False,  # DRF serializers read instances; the queries are what is fixed here
    )


def test_agreements_of_a_municipal_token_filtered(load, django_assert_max_num_queries):
    municipality = load.municipality(0)
    load.agreements("withdrawn_drafting", 1, municipality=municipality)
    client = token_client(Role.OFFICIAL, municipality)
    period = load.periods["2023–2026"].pk
    assert_same_budget(
        client,
        f"/api/v1/agreements/?plan_period={period}&changed_since=2000-01-01T00:00:00Z",
        lambda: load.agreements("withdrawn_review", 49, municipality=municipality),
        django_assert_max_num_queries=django_assert_max_num_queries,
        rows_as_values=False,  # DRF serializers read instances; the queries are what is fixed here
    )


def test_audit_log_as_an_auditor_token(load, django_assert_max_num_queries):
    load.agreements("drafting", 1)
    client = token_client(Role.AUDITOR, region())
    assert_same_budget(
        client,
        "/api/v1/audit-log/",
        lambda: load.agreements("in_force", 20),
        django_assert_max_num_queries=django_assert_max_num_queries,
        rows_as_values=False,  # DRF serializers read instances; the queries are what is fixed here
    )


def test_meetings_and_plan_periods(load, django_assert_max_num_queries):
    load.agreements("drafting", 1)
    client = token_client(Role.COORDINATOR, region())
    for path in ("/api/v1/meetings/", "/api/v1/plan-periods/", "/api/v1/organisations/"):
        assert_same_budget(
            client,
            path,
            lambda: load.agreements("in_force", 5),
            django_assert_max_num_queries=django_assert_max_num_queries,
            rows_as_values=False,  # DRF serializers read instances; the queries are what is fixed here
        )
