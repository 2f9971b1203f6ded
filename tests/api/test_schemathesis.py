"""Schemathesis against the API's own OpenAPI schema, as a Falun token and as
a coordinator with a session: generated requests (valid and invalid, with
Falun's and Mora's ids among them) never get a server error, and every answer
has a status code and a body the schema documents."""

import json

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from accounts.models import Role
from cases.models import Stage
from tests.api.conftest import make_token
from tests.factories import agreement_in_stage, municipality

pytestmark = pytest.mark.django_db

schema = schemathesis.openapi.from_dict(
    json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))
)
APP = get_wsgi_application()
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
SETTINGS = settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.fixture
def keep_connection():
    """As Django's test client does: the request must not close the test's
    connection (and with it its transaction) when it finishes."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def data(keep_connection, settings, coordinator, falun_head, mora_head, administrator):
    settings.API_TOKEN_RATE = "100000/min"
    agreement_in_stage(Stage.SIGNING, "Falun", coordinator=coordinator, head=falun_head)
    agreement_in_stage(Stage.APPROVAL, "Mora", coordinator=coordinator, head=mora_head)
    return {
        "falun_token": make_token(administrator, municipality("Falun"), Role.CULTURAL_HEAD).key,
        "coordinator": coordinator,
    }


@schema.parametrize()
@SETTINGS
def test_as_a_falun_token(case, data):
    case.call_and_validate(app=APP, headers={"Authorization": f"Bearer {data['falun_token']}"}, checks=CHECKS)


@schema.parametrize()
@SETTINGS
def test_as_a_coordinator_with_a_session(case, data):
    client = Client()
    client.force_login(data["coordinator"])
    cookie = client.cookies["sessionid"].value
    # A session must send the CSRF token with a write: a generated POST without it gets a documented 403.
    case.call_and_validate(app=APP, cookies={"sessionid": cookie}, checks=CHECKS)
