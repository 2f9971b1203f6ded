import pytest

from accounts.models import Role
from tests.factories import user_with_role


@pytest.fixture
def coordinator(db):
    return user_with_role(Role.COORDINATOR, full_name="Anna Samordnare")


@pytest.fixture
def auditor(db):
    return user_with_role(Role.AUDITOR, full_name="Erik Revisor")


@pytest.fixture
def administrator(db):
    return user_with_role(Role.ADMINISTRATOR, full_name="Ingrid Admin")


@pytest.fixture
def falun_head(db):
    return user_with_role(Role.CULTURAL_HEAD, "Falun", full_name="Karin Falun")


@pytest.fixture
def mora_head(db):
    return user_with_role(Role.CULTURAL_HEAD, "Mora", full_name="Lars Mora")


@pytest.fixture
def mora_official(db):
    return user_with_role(Role.OFFICIAL, "Mora", full_name="Sara Mora")
