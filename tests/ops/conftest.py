# The transactional test here reloads the migrated reference data like those of tests/reliability.
from tests.reliability.conftest import empty_database_once  # noqa: F401
