"""Helpers for driving the agreement process over HTTP as its users."""

from django.urls import reverse
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from tests.factories.accounts import PASSWORD
from workflows.flows import AgreementFlow


def login(client, user):
    assert client.login(email=user.email, password=PASSWORD)
    return client


def open_task(agreement, step):
    return Task.objects.get(
        process__agreementprocess__agreement=agreement,
        flow_task_type="HUMAN",
        status__in=[STATUS.NEW, STATUS.ASSIGNED],
        flow_task=getattr(AgreementFlow, step),
    )


def step_url(task):
    return reverse("workflows:step", args=[task.process_id, task.flow_task.name, task.pk])


def task_states(agreement):
    """{step name: [statuses in creation order]} of the agreement's human steps."""
    states = {}
    for task in Task.objects.filter(process__agreementprocess__agreement=agreement, flow_task_type="HUMAN").order_by(
        "pk"
    ):
        states.setdefault(task.flow_task.name, []).append(task.status)
    return states


def draft_post(title, areas, *, submit=False):
    """POST data for the draft step: ``areas`` is a list of dicts (id optional)."""
    data = {
        "title": title,
        "areas-TOTAL_FORMS": str(len(areas)),
        "areas-INITIAL_FORMS": str(sum(1 for a in areas if a.get("id"))),
        "areas-MIN_NUM_FORMS": "0",
        "areas-MAX_NUM_FORMS": "1000",
    }
    for i, area in enumerate(areas):
        for key, value in area.items():
            if key == "priorities":
                data[f"areas-{i}-priorities"] = [str(p.pk) for p in value]
            elif key == "DELETE":
                if value:
                    data[f"areas-{i}-DELETE"] = "on"
            else:
                data[f"areas-{i}-{key}"] = "" if value is None else str(value)
    if submit:
        data["submit_for_review"] = "1"
    else:
        data["save"] = "1"
    return data


def sign_post(agreement, password=None):
    """The signing step's form as the signatory posts it: their password (the
    re-authentication) and the SHA-256 of the frozen document the page showed."""
    from cases.agreements.services import current_decision_material
    from tests.factories.accounts import PASSWORD

    document = current_decision_material(type(agreement).objects.get(pk=agreement.pk))  # its current round
    return {
        "password": PASSWORD if password is None else password,
        "document_sha256": document.sha256 if document else "",
    }
