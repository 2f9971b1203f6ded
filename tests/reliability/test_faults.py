"""Faults: an exception after a step's first write, and a database connection
lost during a request, leave no partial state — process, tasks, domain rows and
history all rolled back — and no e-mail is queued (the outbox row and the
worker's task are written in the step's transaction, so they roll back too)."""

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django_tasks_db.models import DBTaskResult
from viewflow.workflow.models import Task

from accounts.models import Role
from background.models import OutgoingEmail
from cases.agreements import services
from cases.models import Agreement, AgreementRevision, Stage
from tests.factories import agreement_in_stage, user_with_role
from tests.factories.accounts import PASSWORD
from tests.workflows.helpers import draft_post, open_task, step_url


def snapshot(agreement):
    """Everything a step could have touched."""
    from accounts.audited_models import AuditedModel  # noqa: F401 (all audited models register history)
    from cases.models import Agreement as A

    return {
        "stage": A.objects.get(pk=agreement.pk).stage,
        "tasks": sorted(
            Task.objects.filter(process__agreementprocess__agreement=agreement).values_list("pk", "status")
        ),
        "revisions": AgreementRevision.objects.filter(agreement=agreement).count(),
        "agreement_history": A.history.filter(id=agreement.pk).count(),
        "area_history": sum(a.history.count() for a in agreement.areas.all()),
        "queued_emails": OutgoingEmail.objects.count(),
        "queued_tasks": DBTaskResult.objects.count(),
    }


def client_for(user):
    client = Client(raise_request_exception=False)
    assert client.login(email=user.email, password=PASSWORD)
    return client


def areas_of(agreement):
    return [
        {
            "id": a.pk,
            "title": a.title + " (ändrad)",
            "goal": a.goal,
            "region_commitment": a.region_commitment,
            "municipality_commitment": a.municipality_commitment,
        }
        for a in agreement.active_areas()
    ]


@pytest.mark.django_db
def test_exception_after_the_first_write_leaves_nothing(monkeypatch, django_capture_on_commit_callbacks):
    coordinator = user_with_role(Role.COORDINATOR)
    agreement = agreement_in_stage(Stage.DRAFTING, coordinator=coordinator)
    services.agreement_save_draft(
        actor=coordinator,
        agreement=agreement,
        title="Utkast",
        areas=[services.AreaInput(title="Område", goal="Mål", region_commitment="R", municipality_commitment="K")],
    )
    before = snapshot(agreement)

    original = services.agreement_submit_for_review

    def submit_then_fail(**kwargs):
        original(**kwargs)  # saves the areas, freezes the revision, moves the stage …
        raise RuntimeError("injected fault after the first write")

    monkeypatch.setattr("workflows.views.steps.services.agreement_submit_for_review", submit_then_fail)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client_for(coordinator).post(
            step_url(open_task(agreement, "draft")), draft_post("Utkast", areas_of(agreement), submit=True)
        )
    assert response.status_code == 500
    assert "Ingenting sparades" in response.content.decode()
    assert snapshot(agreement) == before
    assert callbacks == [] and mail.outbox == []  # nothing was sent, nor queued (the snapshot counts the outbox)


@pytest.mark.django_db
def test_exception_while_completing_the_task_leaves_nothing(monkeypatch):
    head = user_with_role(Role.CULTURAL_HEAD, "Mora")
    agreement = agreement_in_stage(Stage.REVIEW, head=head)
    before = snapshot(agreement)

    def fail(activation, user):
        activation.assign(user)  # a first write on the task …
        raise RuntimeError("injected fault in the engine")

    monkeypatch.setattr("workflows.views.steps.complete_task", fail)
    response = client_for(head).post(step_url(open_task(agreement, "review")), {"verdict": "accept"})
    assert response.status_code == 500
    assert snapshot(agreement) == before
    assert open_task(agreement, "review").owner is None


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("empty_database_once")
def test_database_connection_lost_during_a_request(monkeypatch):
    head = user_with_role(Role.CULTURAL_HEAD, "Mora")
    agreement = agreement_in_stage(Stage.REVIEW, head=head)
    before = snapshot(agreement)
    original = services.review_accept

    def accept_then_lose_connection(**kwargs):
        original(**kwargs)
        with connection.cursor() as cursor:  # the server ends our session mid-transaction
            cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    monkeypatch.setattr("workflows.views.steps.services.review_accept", accept_then_lose_connection)
    response = client_for(head).post(step_url(open_task(agreement, "review")), {"verdict": "accept"})
    # a lost database connection is the 503 page, "nothing was saved" (ops/errors.py)
    assert response.status_code == 503
    assert "Ingenting av det du gjorde sparades" in response.content.decode()
    connection.close()
    assert snapshot(agreement) == before
    assert Agreement.objects.get(pk=agreement.pk).stage == Stage.REVIEW
