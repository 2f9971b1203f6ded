from tests.security.conftest import two_factor_on  # noqa: F401  (the production two-step requirement)
