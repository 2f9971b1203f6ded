import pytest


@pytest.fixture(scope="package")
def empty_database_once(django_db_setup, django_db_blocker):
    """Transactional tests here reload the migrated reference data
    (serialized_rollback) into empty tables, by INSERT; reloading over rows
    still there would UPDATE the append-only history tables. So the tables are
    emptied once before the first one (see tests/e2e/conftest.py for the same)."""
    from django.core.management import call_command
    from django.db import connections

    with django_db_blocker.unblock():
        for alias in connections:
            if hasattr(connections[alias], "_test_serialized_contents"):
                call_command("flush", database=alias, interactive=False, inhibit_post_migrate=True, verbosity=0)
