"""Concurrent writers cannot fork or reorder a chain. These tests commit for
real (transaction=True); afterwards Django empties the database with the
audit app's flush, which a superuser may run past the append-only triggers."""

import random
import threading
import time

import pytest
from django.db import connection, transaction

from accounts.history import deferred_history
from accounts.models import Organisation

from .conftest import verify

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

HISTORY = "accounts_historicalorganisation"


def in_thread(target, *args):
    """Run ``target`` in a thread with its own database connection; re-raise its error."""
    errors = []

    def run():
        try:
            target(*args)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def history_ids():
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT history_id FROM {HISTORY} ORDER BY history_id")
        return [row[0] for row in cursor.fetchall()]


def test_concurrent_writers_keep_one_valid_chain():
    before = len(history_ids())
    organisations = list(Organisation.objects.filter(kind=Organisation.Kind.MUNICIPALITY)[:4])
    assert len(organisations) == 4

    def writer(organisation_id, rounds):
        for n in range(rounds):
            with transaction.atomic():
                organisation = Organisation.objects.get(pk=organisation_id)
                organisation.name = f"{organisation.name.split(' #')[0]} #{n}"
                organisation.save()
                time.sleep(random.uniform(0, 0.01))  # hold the transaction open a little

    threads = [in_thread(writer, o.pk, 15) for o in organisations]
    for thread, _errors in threads:
        thread.join(timeout=60)
    for _thread, errors in threads:
        assert not errors, errors

    assert len(history_ids()) == before + 4 * 15
    code, out, err = verify()
    assert code == 0, err
    assert f"ok {HISTORY}: {before + 60} rows" in out


def test_a_writer_that_waited_is_chained_after_the_one_it_waited_for():
    """B takes its id first but waits for the chain lock that A holds; A
    inserts with a higher id and commits; B is then given the next id and
    chained after A: id order is chain order."""
    mora, falun = Organisation.objects.get(kommunkod="2062"), Organisation.objects.get(kommunkod="2080")
    a_has_lock, a_may_insert, b_pid = threading.Event(), threading.Event(), []

    def writer_a():
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT samverkan_audit_lock(%s::regclass)", [HISTORY])
            a_has_lock.set()
            assert a_may_insert.wait(timeout=20)
            falun.name = "Falu kommun"
            falun.save()

    def writer_b():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            b_pid.append(cursor.fetchone()[0])
        assert a_has_lock.wait(timeout=20)
        with transaction.atomic():
            mora.name = "Mora kommun"
            mora.save()

    thread_a, errors_a = in_thread(writer_a)
    thread_b, errors_b = in_thread(writer_b)
    # Wait until B is blocked on the chain lock (its id is taken by then).
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT wait_event FROM pg_stat_activity WHERE pid = %s", b_pid or [0])
            row = cursor.fetchone()
        if row and row[0] == "advisory":
            break
        time.sleep(0.02)
    else:
        pytest.fail("B never waited for the chain lock")
    a_may_insert.set()
    thread_a.join(timeout=30)
    thread_b.join(timeout=30)
    assert not errors_a and not errors_b, (errors_a, errors_b)

    a_row = Organisation.history.filter(id=falun.pk).latest("history_id")
    b_row = Organisation.history.filter(id=mora.pk).latest("history_id")
    assert (a_row.name, b_row.name) == ("Falu kommun", "Mora kommun")
    assert b_row.history_id > a_row.history_id
    assert verify()[0] == 0


def test_history_deferred_to_the_end_does_not_hold_the_chain_while_the_step_runs():
    """A step inside deferred_history() saves early and works on; another
    writer of the same history table commits meanwhile without waiting for
    it; the step's row is written at the end, chained after the other one."""
    mora, falun = Organisation.objects.get(kommunkod="2062"), Organisation.objects.get(kommunkod="2080")
    a_saved, b_done = threading.Event(), threading.Event()

    def step_a():
        with transaction.atomic(), deferred_history():
            falun.name = "Falu kommun (steg)"
            falun.save()
            a_saved.set()
            # The rest of the step (viewflow completing the task…) runs while B commits.
            assert b_done.wait(timeout=20), "B waited for A's chain lock"

    def writer_b():
        assert a_saved.wait(timeout=20)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '5s'")
            mora.name = "Mora kommun (annan)"
            mora.save()
        b_done.set()

    thread_a, errors_a = in_thread(step_a)
    thread_b, errors_b = in_thread(writer_b)
    thread_b.join(timeout=30)
    thread_a.join(timeout=30)
    assert not errors_a and not errors_b, (errors_a, errors_b)

    a_row = Organisation.history.filter(id=falun.pk).latest("history_id")
    b_row = Organisation.history.filter(id=mora.pk).latest("history_id")
    assert (a_row.name, b_row.name) == ("Falu kommun (steg)", "Mora kommun (annan)")
    assert a_row.history_id > b_row.history_id  # A's row went in after B's, at the end of A
    # The time is the database's when the row was written, so it follows the chain: A's row is later.
    assert a_row.history_date > b_row.history_date
    assert verify()[0] == 0
