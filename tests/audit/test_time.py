"""A history row's time is the database's, not the client's; a chain's times
never go backwards. The one escape, for generated data and tests that move
the clock, is ``samverkan.audit_keep_time`` in a superuser's session; the
application's role cannot use it."""

import datetime

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from accounts.models import Organisation, SignInEvent
from cases.audit.sql import keep_time_session

from .conftest import as_role, run_sql

pytestmark = pytest.mark.django_db

LONG_AGO = datetime.datetime(2019, 5, 1, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture
def mora(db):
    return Organisation.objects.get(kommunkod="2062")


def database_now():
    return run_sql("SELECT clock_timestamp()")[0][0]


def rename(organisation, name):
    organisation.name = name
    organisation.save()
    return organisation.history.latest("history_id")


def test_the_time_of_a_row_is_the_database_clock_whatever_the_client_says(mora, time_machine):
    before = database_now()
    time_machine.move_to(LONG_AGO, tick=False)  # the application's clock is wrong (or lies)
    row = rename(mora, "Mora kommun")
    event = SignInEvent.objects.create(kind=SignInEvent.Kind.FAILED, email="x@example.se")
    event.refresh_from_db()
    assert before <= row.history_date <= database_now()
    assert before <= event.at <= database_now()


def test_a_superuser_may_keep_the_time_of_generated_rows(mora, time_machine):
    time_machine.move_to(LONG_AGO, tick=False)
    with keep_time_session(connection):
        row = rename(mora, "Mora kommun")
    assert row.history_date == LONG_AGO
    assert rename(mora, "Mora").history_date > LONG_AGO  # the setting ends with the block


def test_the_application_role_cannot_keep_its_time(mora, time_machine, database_roles):
    time_machine.move_to(LONG_AGO, tick=False)
    with as_role(database_roles.app):
        run_sql("SET LOCAL samverkan.audit_keep_time = 'on'")
        row = rename(mora, "Mora kommun")
    assert row.history_date > database_now() - datetime.timedelta(hours=1)


def test_a_chain_never_goes_back_in_time(mora):
    rows = [rename(mora, f"Mora {n}") for n in range(5)]
    assert [r.history_date for r in rows] == sorted(r.history_date for r in rows)
    assert len({r.history_date for r in rows}) == 5
    # A row dated after the database clock (a superuser keeping a time in the future)…
    with keep_time_session(connection):
        mora._history_date = timezone.now() + datetime.timedelta(days=1)  # simple-history's own way to date a row
        rename(mora, "Mora i morgon")
        del mora._history_date
    # …makes the next ordinary row go back in time: refused, with a clear message.
    with pytest.raises(DatabaseError, match="would go back in time"), transaction.atomic():
        rename(mora, "Mora idag")


def test_generated_many_to_many_history_may_be_loaded_after_its_parents(agreement):
    """The parent check is skipped with keep-time (the load generator writes
    link rows in batches of their own); without it, it holds."""
    area = agreement.areas.first()
    first, latest = area.history.order_by("history_id")[0], area.history.latest("history_id")
    priority = area.priorities.first()
    insert = (
        "INSERT INTO cases_historicalcollaborationarea_priorities "
        "(id, collaborationarea_id, planpriority_id, history_id, history_hash) VALUES (1, %s, %s, %s, '')"
    )
    with pytest.raises(DatabaseError, match="latest history row"), transaction.atomic():
        run_sql(insert, [area.pk, priority.pk, first.history_id])
    run_sql(insert, [area.pk, priority.pk, latest.history_id])  # the latest one: accepted
    with keep_time_session(connection):
        run_sql(insert, [area.pk, priority.pk, first.history_id])
