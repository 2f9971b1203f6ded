"""Races on PostgreSQL with real threads and separate connections, started
together with a barrier: exactly one wins, the loser gets a clear 409 (never a
500), nothing is lost or duplicated, and history matches what happened."""

import threading

import pytest
from django.db import connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from viewflow.workflow.models import Task

from accounts.models import Role
from cases.models import Agreement, Decision, PlanPeriod, ReviewComment, Stage
from tests.factories import agreement_in_stage, municipality, user_with_role
from tests.factories.accounts import PASSWORD
from tests.workflows.helpers import open_task, step_url, task_states

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("empty_database_once"),
]


def race(*calls):
    """Run each call in its own thread (own DB connection), all released at once."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=30)
            results[index] = call()
        except Exception as exc:  # reported, not swallowed
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def open_task_node(name):
    from workflows.flows import AgreementFlow

    return getattr(AgreementFlow, name)


def logged_in(user):
    client = Client()
    assert client.login(email=user.email, password=PASSWORD)
    return client


def decision(paragraph):
    return {
        "body": "Kultur- och bildningsnämnden",
        "meeting_date": timezone.localdate().isoformat(),
        "paragraph": paragraph,
        "outcome": "approved",
    }


def test_two_coordinators_take_the_same_step_at_once():
    first, second = user_with_role(Role.COORDINATOR), user_with_role(Role.COORDINATOR)
    agreement = agreement_in_stage(Stage.APPROVAL, coordinator=first)
    url = step_url(open_task(agreement, "region_decision"))
    clients = [logged_in(first), logged_in(second)]

    results = race(lambda: clients[0].post(url, decision("§ 1")), lambda: clients[1].post(url, decision("§ 2")))

    codes = sorted(r.status_code for r in results)
    assert codes == [302, 409], results
    assert Decision.objects.filter(agreement=agreement).count() == 1
    assert task_states(agreement)["region_decision"] == ["DONE"]
    done = Task.objects.get(
        process__agreementprocess__agreement=agreement, flow_task=open_task_node("region_decision"), status="DONE"
    )
    recorded = Decision.objects.get(agreement=agreement)
    assert recorded.recorded_by == done.owner
    assert recorded.history.count() == 1
    loser = next(r for r in results if r.status_code == 409)
    assert "redan" in loser.content.decode() or "just nu" in loser.content.decode()


def test_one_user_double_submits_a_step():
    head = user_with_role(Role.CULTURAL_HEAD, "Mora")
    agreement = agreement_in_stage(Stage.REVIEW, head=head)
    url = step_url(open_task(agreement, "review"))
    client_a, client_b = logged_in(head), logged_in(head)
    data = {"verdict": "changes", "comment": "Mer om biblioteket"}

    results = race(lambda: client_a.post(url, data), lambda: client_b.post(url, data))

    assert sorted(r.status_code for r in results) == [302, 409]
    assert ReviewComment.objects.filter(agreement=agreement).count() == 1
    agreement.refresh_from_db()
    assert agreement.stage == Stage.DRAFTING and agreement.review_round == 2
    assert task_states(agreement) == {"draft": ["DONE", "NEW"], "review": ["DONE"]}
    assert agreement.history.filter(stage=Stage.DRAFTING, review_round=2).count() == 1


def test_withdrawal_against_a_steps_completion():
    coordinator = user_with_role(Role.COORDINATOR)
    head = user_with_role(Role.CULTURAL_HEAD, "Mora")
    agreement = agreement_in_stage(Stage.REVIEW, coordinator=coordinator, head=head)
    review_url = step_url(open_task(agreement, "review"))
    withdraw_url = reverse("workflows:agreement_withdraw", args=[agreement.pk])
    head_client, coordinator_client = logged_in(head), logged_in(coordinator)

    results = race(
        lambda: head_client.post(review_url, {"verdict": "accept"}),
        lambda: coordinator_client.post(withdraw_url, {"reason": "Kommunen avstår"}),
    )

    assert all(not isinstance(r, Exception) for r in results), results
    assert all(r.status_code in (302, 409) for r in results), [r.status_code for r in results]
    agreement.refresh_from_db()
    states = task_states(agreement)
    withdraw_won = results[1].status_code == 302
    if withdraw_won and results[0].status_code == 409:
        # Withdrawn first: the review never happened.
        assert agreement.stage == Stage.WITHDRAWN
        assert states["review"] == ["CANCELED"]
    else:
        # The review went first; the withdrawal then cancelled the approval steps.
        assert states["review"] == ["DONE"]
        assert agreement.stage == Stage.WITHDRAWN if withdraw_won else agreement.stage == Stage.APPROVAL
        if withdraw_won:
            assert set(states["region_decision"]) == {"CANCELED"}
    # No open human step may be left on a withdrawn agreement.
    if agreement.stage == Stage.WITHDRAWN:
        assert not Task.objects.filter(
            process__agreementprocess__agreement=agreement, flow_task_type="HUMAN", status__in=["NEW", "ASSIGNED"]
        ).exists()


def test_agreements_opened_at_the_same_instant_get_distinct_case_numbers():
    coordinators = [user_with_role(Role.COORDINATOR) for _ in range(4)]
    period = PlanPeriod.objects.get(name="2023–2026")
    names = ["Falun", "Mora", "Orsa", "Gagnef"]
    clients = [logged_in(c) for c in coordinators]

    def opener(client, name):
        return lambda: client.post(
            reverse("workflows:agreement_open"),
            {"municipality": municipality(name).pk, "plan_period": period.pk, "title": f"Kultur i {name}"},
        )

    results = race(*(opener(c, n) for c, n in zip(clients, names, strict=True)))

    assert [r.status_code for r in results] == [302] * 4, results
    numbers = sorted(Agreement.objects.values_list("case_number", flat=True))
    assert len(set(numbers)) == 4
    year = timezone.localdate().year
    assert numbers == [f"RD {year}/{n:04d}" for n in range(1, 5)]


def test_two_coordinators_open_the_same_municipality_at_once():
    a, b = user_with_role(Role.COORDINATOR), user_with_role(Role.COORDINATOR)
    period = PlanPeriod.objects.get(name="2023–2026")
    data = {"municipality": municipality("Mora").pk, "plan_period": period.pk, "title": "Kultur i Mora"}
    clients = [logged_in(a), logged_in(b)]

    results = race(
        lambda: clients[0].post(reverse("workflows:agreement_open"), data),
        lambda: clients[1].post(reverse("workflows:agreement_open"), data),
    )

    assert sorted(r.status_code for r in results) == [302, 400], results
    assert Agreement.objects.filter(municipality=municipality("Mora")).count() == 1
    loser = next(r for r in results if r.status_code == 400)
    assert "har redan en överenskommelse" in loser.content.decode()
