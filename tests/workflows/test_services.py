"""workflows.services, called directly: the steps that span the domain and the
process (opening starts the process, withdrawal cancels the open steps, a
step's due date moves), with the history rows they write."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts import audit_reasons as reasons
from cases.exceptions import StepNotAllowed
from cases.models import Stage
from tests.cases.helpers import history_written, rows
from tests.factories import agreement_in_stage, current_period, municipality
from tests.workflows.helpers import open_task, task_states
from workflows import services
from workflows.models import TaskDeadline

pytestmark = pytest.mark.django_db


def test_opening_an_agreement_starts_its_process_at_the_draft(coordinator):
    with history_written() as written:
        agreement = services.agreement_open(
            actor=coordinator, municipality=municipality("Mora"), plan_period=current_period(), title="Kultur i Mora"
        )
    assert agreement.stage == Stage.DRAFTING
    assert task_states(agreement) == {"draft": ["NEW"]}
    why = reasons.AGREEMENT_OPENED
    assert written == rows(("agreement", "+", coordinator, why), ("taskdeadline", "+", coordinator, why))


def test_withdrawal_cancels_the_open_steps(coordinator, mora_head):
    agreement = agreement_in_stage(Stage.APPROVAL, coordinator=coordinator, head=mora_head)
    services.agreement_withdraw(actor=coordinator, agreement=agreement, reason="Kommunen avstår.")
    agreement.refresh_from_db()
    assert agreement.stage == Stage.WITHDRAWN
    states = task_states(agreement)
    assert states["region_decision"] == ["CANCELED"] and states["municipal_decision"] == ["CANCELED"]


def test_a_due_date_moves_with_a_reason_kept_on_the_step(coordinator, mora_head):
    agreement = agreement_in_stage(Stage.REVIEW, coordinator=coordinator, head=mora_head)
    task = open_task(agreement, "review")
    later = TaskDeadline.objects.get(task=task).due_on + datetime.timedelta(days=14)
    with history_written() as written:
        services.step_change_due_date(actor=coordinator, task=task, due_on=later, reason=" Nämnden möts senare ")
    assert TaskDeadline.objects.get(task=task).due_on == later
    assert written == rows(("taskdeadline", "~", coordinator, "Nämnden möts senare"))
    assert TaskDeadline.history.filter(task_id=task.pk).latest().history_task_id == task.pk


def test_due_date_rules(coordinator, mora_head):
    agreement = agreement_in_stage(Stage.REVIEW, coordinator=coordinator, head=mora_head)
    task = open_task(agreement, "review")
    with pytest.raises(PermissionDenied):
        services.step_change_due_date(actor=mora_head, task=task, due_on=datetime.date(2030, 1, 1), reason="x")
    with pytest.raises(ValidationError) as error:
        services.step_change_due_date(actor=coordinator, task=task, due_on=datetime.date(2000, 1, 1), reason=" ")
    assert set(error.value.message_dict) == {"due_on", "reason"}
    draft = agreement.process.task_set.filter(flow_task_type="HUMAN", status="DONE").first()
    with pytest.raises(StepNotAllowed):
        services.step_change_due_date(actor=coordinator, task=draft, due_on=datetime.date(2030, 1, 1), reason="x")
