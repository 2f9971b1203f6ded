import pytest


@pytest.fixture
def axes_on(settings):
    """django-axes as in production (the test settings turn it off, because
    client.login() gives it no request)."""
    settings.AXES_ENABLED = True
    return settings


@pytest.fixture
def two_factor_on(settings):
    """The two-factor requirement as in production (off in the test settings)."""
    settings.SAMVERKAN_REQUIRE_2FA_ROLES = ["coordinator", "administrator"]
    return settings
