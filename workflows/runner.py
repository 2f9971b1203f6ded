"""Taking a step from code (demo data, factories, management commands), the
same way the step views do: lock the process, run the step's service, and
complete the task as the acting user."""

from django.db import transaction
from viewflow.workflow.models import Task

from accounts.history import audit_context

from .flows import AgreementFlow
from .nodes import OPEN, complete_task


def open_task(agreement, step_name):
    """The open task of ``step_name`` on ``agreement``."""
    node = getattr(AgreementFlow, step_name)
    return Task.objects.get(process__agreementprocess__agreement=agreement, flow_task=node, status__in=OPEN)


@transaction.atomic
def run_step(*, agreement, step_name, actor, perform, complete=True):
    """Take ``step_name`` on ``agreement`` as ``actor``: ``perform()`` calls the
    step's service; the task is completed unless ``complete`` is False."""
    task = open_task(agreement, step_name)
    with AgreementFlow.lock(task.process_id):
        task.refresh_from_db()
        activation = task.flow_task.activation_class(task)
        with audit_context(actor=actor, task_id=task.pk):
            result = perform()
            if complete:
                complete_task(activation, actor)
    return result
