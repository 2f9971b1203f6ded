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


@pytest.fixture(scope="session")
def oidc_provider_process():
    """One real OpenID provider process (tests/oidc/provider.mjs) for the session."""
    from tests.oidc.helpers import ProviderProcess

    process = ProviderProcess()
    yield process
    process.stop()


@pytest.fixture
def oidc_provider(oidc_provider_process, settings):
    """The provider, emptied (no accounts, no fault), and configured in
    Samverkan's settings as the provider "test" with no mapping rules
    (``configure(rules=...)`` sets them)."""
    from django.core.cache import cache

    oidc_provider_process.reset()
    cache.clear()

    def configure(**overrides):
        settings.SAMVERKAN_OIDC_PROVIDERS = (oidc_provider_process.config(**overrides),)
        return settings.SAMVERKAN_OIDC_PROVIDERS[0]

    oidc_provider_process.configure = configure
    configure()
    return oidc_provider_process


@pytest.fixture
def history_keeps_client_time(db):
    """History keeps the times the application gives it (a clock moved with
    time_machine) instead of the database's clock, for the test's connection:
    the superuser-only ``samverkan.audit_keep_time`` of cases/audit/sql.py,
    which the test database's superuser may use (tests/audit/test_time.py
    shows that the application's role cannot). For tests that move the clock
    and then read history dates."""
    from django.db import connection

    from cases.audit.sql import keep_time_session

    with keep_time_session(connection):
        yield


@pytest.fixture
def signing_certificate(tmp_path, settings):
    """A throwaway self-signed certificate and key (PEM files under tmp_path),
    configured as the region's signing certificate for the test (#12 item 4)."""
    from cases.agreements import pades

    certificate, key = pades.make_demo_certificate(
        common_name="TEST – Region Dalarna – ej giltig för underskrift", organisation="Region Dalarna (test)"
    )
    cert_path, key_path = tmp_path / "signing-cert.pem", tmp_path / "signing-key.pem"
    pades.write_pem(certificate, key, cert_path=cert_path, key_path=key_path)
    settings.SIGNING_PKCS12 = ""
    settings.SIGNING_CERT = str(cert_path)
    settings.SIGNING_KEY = str(key_path)
    return certificate
