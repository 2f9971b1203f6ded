"""deferred_history(): the history rows of a block are built when the data is
saved and written at the block's end, table by table (see accounts.history)."""

import pytest
from django.db import connection, transaction

from accounts.history import audit_context, deferred_history
from accounts.models import Organisation
from cases.models import Agreement, CollaborationArea

from .conftest import verify

pytestmark = pytest.mark.django_db


@pytest.fixture
def mora(db):
    return Organisation.objects.get(kommunkod="2062")


def test_rows_are_written_at_the_end_with_what_was_known_when_the_data_was_saved(mora):
    before = mora.history.count()
    with audit_context(reason="Namnbyte", task_id=4711), deferred_history():
        mora.name = "Mora kommun"
        mora.save()
        with audit_context(reason="Något annat"):
            pass
        assert mora.history.count() == before  # not yet in the database
    assert mora.history.count() == before + 1
    row = mora.history.latest("history_id")
    assert (row.name, row.history_change_reason, row.history_task_id) == ("Mora kommun", "Namnbyte", 4711)
    assert row.history_hash  # chained by the trigger like any row
    assert verify()[0] == 0


def test_an_error_in_the_block_writes_no_history(mora):
    before = mora.history.count()
    with pytest.raises(RuntimeError), transaction.atomic(), deferred_history():
        mora.name = "Mora kommun"
        mora.save()
        raise RuntimeError("the step failed")
    assert mora.history.count() == before
    mora.refresh_from_db()
    assert mora.name != "Mora kommun"


def test_tables_are_written_in_name_order_rows_of_a_table_in_save_order(agreement, mora):
    inserts = []

    def record(execute, sql, params, many, context):
        if sql.startswith("INSERT INTO") and "historical" in sql:
            inserts.append(sql.split('"')[1])
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record), deferred_history():
        agreement.save()  # cases_historicalagreement
        mora.name = "Mora kommun"
        mora.save()  # accounts_historicalorganisation
        agreement.save()
    assert inserts == ["accounts_historicalorganisation", "cases_historicalagreement", "cases_historicalagreement"]
    first, second = Agreement.history.filter(id=agreement.pk).order_by("-history_id")[:2][::-1]
    assert first.history_date < second.history_date


def test_a_row_with_many_to_many_history_is_written_at_once(agreement):
    area = CollaborationArea.objects.filter(agreement=agreement).first()
    before = area.history.count()
    with deferred_history():
        area.title = "Läsfrämjande i hela kommunen"
        area.save()
        # Its priorities' history refers to this row, so it cannot wait.
        assert area.history.count() == before + 1


def test_blocks_nest_and_the_outermost_writes(mora):
    before = mora.history.count()
    with deferred_history():
        with deferred_history():
            mora.save()
        assert mora.history.count() == before
    assert mora.history.count() == before + 1
