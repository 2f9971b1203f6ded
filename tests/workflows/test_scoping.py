"""Who sees and does what: a Falun cultural head never sees or touches Mora;
auditors see everything and change nothing; coordinators see all."""

import pytest
from django.urls import reverse
from viewflow.workflow.models import Task

from accounts.models import Role
from cases.models import Agreement, Stage
from tests.factories import agreement_in_stage, user_with_role
from tests.workflows.helpers import login, open_task, step_url
from workflows.flows import AgreementFlow

pytestmark = pytest.mark.django_db


@pytest.fixture
def mora_agreement(coordinator, mora_head):
    agreement = agreement_in_stage(Stage.SIGNING, "Mora", coordinator=coordinator, head=mora_head)
    # an attachment, so its download URL is covered too
    from django.core.files.uploadedfile import SimpleUploadedFile

    from cases.agreements.services import attachment_add

    attachment_add(
        actor=coordinator,
        agreement=agreement,
        uploaded=SimpleUploadedFile("beslut.pdf", b"%PDF-1.4 test", content_type="application/pdf"),
    )
    return agreement


def mora_urls(agreement):
    """Every URL that concerns the Mora agreement: its page and actions, its
    open and finished steps, and its attachments."""
    tasks = Task.objects.filter(process__agreementprocess__agreement=agreement, flow_task_type="HUMAN")
    urls = [
        reverse("workflows:agreement", args=[agreement.pk]),
        reverse("workflows:agreement_withdraw", args=[agreement.pk]),
        reverse("workflows:attachment_upload", args=[agreement.pk]),
    ]
    urls += [reverse("workflows:attachment", args=[a.pk]) for a in agreement.attachments.all()]
    urls += [step_url(task) for task in tasks]
    urls += [reverse("workflows:step_due_date", args=[agreement.pk, task.pk]) for task in tasks]
    return urls


def test_falun_head_gets_403_or_404_on_every_mora_url(client, falun_head, mora_agreement):
    login(client, falun_head)
    before = (Agreement.history.count(), Task.objects.count())
    for url in mora_urls(mora_agreement):
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code in (403, 404), (method, url, response.status_code)
    assert (Agreement.history.count(), Task.objects.count()) == before


def test_falun_head_never_sees_mora_in_any_list(client, coordinator, falun_head, mora_agreement):
    falun = agreement_in_stage(Stage.REVIEW, "Falun", coordinator=coordinator, head=falun_head)
    login(client, falun_head)
    for name in ("workflows:inbox", "workflows:queue", "workflows:archive", "workflows:agreements"):
        html = client.get(reverse(name)).content.decode()
        assert mora_agreement.case_number not in html, name
        assert "Mora" not in html, name
    assert falun.case_number in client.get(reverse("workflows:agreements")).content.decode()
    assert falun.case_number in client.get(reverse("workflows:inbox")).content.decode()
    # search and filters cannot reach it either
    response = client.get(reverse("workflows:agreements"), {"q": mora_agreement.case_number})
    assert list(response.context["page"]) == []
    assert "Inga överenskommelser matchar" in response.content.decode()


def test_a_task_of_one_process_cannot_be_reached_through_another(client, coordinator, mora_head, falun_head):
    mora = agreement_in_stage(Stage.REVIEW, "Mora", coordinator=coordinator, head=mora_head)
    falun = agreement_in_stage(Stage.REVIEW, "Falun", coordinator=coordinator, head=falun_head)
    mora_task, falun_task = open_task(mora, "review"), open_task(falun, "review")
    login(client, falun_head)
    # Falun's process id with Mora's task id (the lock would be taken on the wrong process).
    url = reverse("workflows:step", args=[falun_task.process_id, "review", mora_task.pk])
    assert client.post(url, {"verdict": "accept"}).status_code == 404
    # A task id under the wrong step name.
    url = reverse("workflows:step", args=[falun_task.process_id, "draft", falun_task.pk])
    assert client.get(url).status_code == 404
    mora.refresh_from_db()
    assert mora.stage == Stage.REVIEW


def test_auditor_sees_everything_and_changes_nothing(client, auditor, mora_agreement):
    login(client, auditor)
    assert mora_agreement.case_number in client.get(reverse("workflows:agreements")).content.decode()
    assert client.get(reverse("workflows:agreement", args=[mora_agreement.pk])).status_code == 200
    before = (Agreement.history.count(), Task.objects.count())
    for url in mora_urls(mora_agreement):
        if "/bilagor/" in url and "overenskommelser" not in url:
            assert client.get(url).status_code == 200  # may read attachments
            continue
        if url == reverse("workflows:agreement", args=[mora_agreement.pk]):
            continue
        assert client.post(url, {"reason": "x", "due_on": "2030-01-01"}).status_code in (403, 404, 405, 409), url
    assert client.post(reverse("workflows:agreement_open"), {"title": "x"}).status_code == 403
    assert (Agreement.history.count(), Task.objects.count()) == before
    assert client.get(reverse("workflows:inbox")).status_code == 200


def test_coordinator_sees_all_municipalities(client, coordinator, mora_agreement, falun_head):
    falun = agreement_in_stage(Stage.DRAFTING, "Falun", coordinator=coordinator, head=falun_head)
    login(client, coordinator)
    html = client.get(reverse("workflows:agreements")).content.decode()
    assert mora_agreement.case_number in html and falun.case_number in html


def test_official_cannot_review_or_sign(client, coordinator, mora_head, mora_official):
    agreement = agreement_in_stage(Stage.REVIEW, "Mora", coordinator=coordinator, head=mora_head)
    login(client, mora_official)
    assert client.post(step_url(open_task(agreement, "review")), {"verdict": "accept"}).status_code == 403
    agreement.refresh_from_db()
    assert agreement.stage == Stage.REVIEW


def test_flow_view_permission_is_scoped(coordinator, falun_head, auditor, mora_agreement):
    process = mora_agreement.process
    assert AgreementFlow.instance.has_view_permission(coordinator, process)
    assert AgreementFlow.instance.has_view_permission(auditor, process)
    assert not AgreementFlow.instance.has_view_permission(falun_head, process)
    assert not AgreementFlow.instance.has_manage_permission(coordinator, process)


def test_every_human_step_has_an_object_permission():
    from workflows.nodes import AgreementStep

    steps = [n for n in AgreementFlow.instance.nodes() if isinstance(n, AgreementStep)]
    assert len(steps) >= 6
    for node in steps:
        assert node._owner_permission and node._owner_permission.startswith("accounts.")
        assert callable(node._owner_permission_obj)


def test_viewflow_queue_uses_the_municipality_row_permission(coordinator, mora_head, falun_head):
    agreement = agreement_in_stage(Stage.REVIEW, "Mora", coordinator=coordinator, head=mora_head)
    task = open_task(agreement, "review")
    assert task.owner_permission == "accounts.review_agreement"
    assert task.owner_permission_obj_pk == str(agreement.municipality_id)
    mora_queue = Task.objects.user_queue(type(mora_head).objects.get(pk=mora_head.pk))
    falun_queue = Task.objects.user_queue(type(falun_head).objects.get(pk=falun_head.pk))
    assert task in mora_queue and task not in falun_queue


def test_second_municipal_head_membership_change_takes_effect_next_request(client, coordinator):
    from accounts.models import Membership
    from accounts.services import membership_end

    head = user_with_role(Role.CULTURAL_HEAD, "Mora")
    agreement = agreement_in_stage(Stage.REVIEW, "Mora", coordinator=coordinator, head=head)
    login(client, head)
    assert client.get(reverse("workflows:agreement", args=[agreement.pk])).status_code == 200
    membership_end(actor=coordinator, membership=Membership.objects.get(user=head), reason="Slutat")
    assert client.get(reverse("workflows:agreement", args=[agreement.pk])).status_code == 404
