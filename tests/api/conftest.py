import datetime

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Role
from api import services
from tests.factories import municipality, region


def make_token(administrator, organisation, role, *, days=30, name="Diarium"):
    return services.token_create(
        actor=administrator,
        organisation=organisation,
        role=role,
        name=name,
        expires_at=timezone.now() + datetime.timedelta(days=days),
    )


def token_client(key, language=None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    if language:
        headers["HTTP_ACCEPT_LANGUAGE"] = language
    return Client(raise_request_exception=False, **headers)


@pytest.fixture
def falun_token(administrator):
    return make_token(administrator, municipality("Falun"), Role.CULTURAL_HEAD)


@pytest.fixture
def auditor_token(administrator):
    return make_token(administrator, region(), Role.AUDITOR, name="BI")


@pytest.fixture
def coordinator_token(administrator):
    return make_token(administrator, region(), Role.COORDINATOR, name="Diarium")
