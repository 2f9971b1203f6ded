"""A step taken twice, a step opened after someone finished it, and bad input:
a clear message, no second transition, nothing saved."""

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from viewflow.workflow.models import Task

from accounts.models import Role
from cases.models import Attachment, Decision, Stage
from tests.factories import agreement_in_stage, user_with_role
from tests.workflows.helpers import login, open_task, step_url, task_states

pytestmark = pytest.mark.django_db


def decision_data(**overrides):
    data = {
        "body": "Kultur- och bildningsnämnden",
        "meeting_date": timezone.localdate().isoformat(),
        "paragraph": "§ 45",
        "outcome": "approved",
    }
    data.update(overrides)
    return data


def test_a_step_submitted_twice_transitions_once(client, coordinator, mora_head):
    agreement = agreement_in_stage(Stage.REVIEW, coordinator=coordinator, head=mora_head)
    url = step_url(open_task(agreement, "review"))
    login(client, mora_head)
    assert client.post(url, {"verdict": "accept"}).status_code == 302
    second = client.post(url, {"verdict": "accept"})
    assert second.status_code == 409
    assert "redan" in second.content.decode()  # "already completed by …"
    assert task_states(agreement)["review"] == ["DONE"]
    assert agreement.history.filter(stage=Stage.APPROVAL).count() == 1


def test_a_second_user_opening_a_finished_step_is_told(client, coordinator, mora_head):
    second_head = user_with_role(Role.CULTURAL_HEAD, "Mora")
    agreement = agreement_in_stage(Stage.REVIEW, coordinator=coordinator, head=mora_head)
    url = step_url(open_task(agreement, "review"))
    login(client, mora_head)
    client.post(url, {"verdict": "accept"})
    client.logout()
    login(client, second_head)
    response = client.get(url)
    assert response.status_code == 409
    assert mora_head.full_name in response.content.decode()


def test_decision_bad_input_shows_errors_next_to_fields_and_saves_nothing(client, coordinator, mora_head):
    agreement = agreement_in_stage(Stage.APPROVAL, coordinator=coordinator, head=mora_head)
    url = step_url(open_task(agreement, "region_decision"))
    login(client, coordinator)
    tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    # Inside the plan period, but before the agreement was opened (#12: dates that cannot be true).
    before_opened = (timezone.localdate(agreement.created_at) - datetime.timedelta(days=1)).isoformat()
    assert agreement.plan_period.contains(datetime.date.fromisoformat(before_opened))
    cases = [
        ({"body": ""}, "body", "Detta fält måste fyllas i"),
        ({"meeting_date": tomorrow}, "meeting_date", "kan inte ligga i framtiden"),
        ({"meeting_date": before_opened}, "meeting_date", "före den dag överenskommelsen öppnades"),
        ({"meeting_date": "2020-05-05"}, "meeting_date", "inom planperioden"),
        ({"meeting_date": "2026-02-30"}, "meeting_date", "giltigt datum"),
        ({"paragraph": "paragraf fyrtiofem"}, "paragraph", "§ 45"),
    ]
    for overrides, field, message in cases:
        response = client.post(url, decision_data(**overrides))
        assert response.status_code == 400, overrides
        assert message in response.content.decode(), overrides
        assert field in response.context["form"].errors, overrides
    assert Decision.objects.count() == 0
    assert task_states(agreement)["region_decision"] == ["NEW"]
    assert open_task(agreement, "region_decision").owner is None  # not even claimed


def test_attachments_are_checked_by_content_and_size(client, coordinator, mora_head):
    agreement = agreement_in_stage(Stage.APPROVAL, coordinator=coordinator, head=mora_head)
    url = step_url(open_task(agreement, "region_decision"))
    login(client, coordinator)
    fake_pdf = SimpleUploadedFile("protokoll.pdf", b"MZ\x90\x00 this is an executable", content_type="application/pdf")
    response = client.post(url, {**decision_data(), "minutes": fake_pdf})
    assert response.status_code == 400
    assert "inte PDF" in response.content.decode()
    renamed_png = SimpleUploadedFile("protokoll.pdf", b"\x89PNG\r\n\x1a\n" + b"0" * 100, content_type="application/pdf")
    response = client.post(url, {**decision_data(), "minutes": renamed_png})
    assert response.status_code == 400 and "PNG" in response.content.decode()
    big = SimpleUploadedFile("stor.pdf", b"%PDF-1.4" + b"0" * (20 * 1024 * 1024), content_type="application/pdf")
    response = client.post(url, {**decision_data(), "minutes": big})
    assert response.status_code == 400 and "högst" in response.content.decode()
    assert Attachment.objects.count() == 0 and Decision.objects.count() == 0

    good = SimpleUploadedFile("protokoll.pdf", b"%PDF-1.4\n%%EOF", content_type="application/pdf")
    assert client.post(url, {**decision_data(), "minutes": good}).status_code == 302
    decision = Decision.objects.get()
    assert decision.minutes.original_name == "protokoll.pdf"
    assert len(decision.minutes.sha256) == 64 and decision.minutes.size == 14


def test_review_asking_for_changes_without_a_comment_is_refused(client, coordinator, mora_head):
    agreement = agreement_in_stage(Stage.REVIEW, coordinator=coordinator, head=mora_head)
    login(client, mora_head)
    response = client.post(step_url(open_task(agreement, "review")), {"verdict": "changes"})
    assert response.status_code == 400
    assert "Skriv minst en kommentar" in response.content.decode()
    agreement.refresh_from_db()
    assert agreement.stage == Stage.REVIEW


def test_opening_a_second_agreement_for_the_same_municipality_and_period_is_refused(client, coordinator, mora_head):
    agreement = agreement_in_stage(Stage.DRAFTING, coordinator=coordinator, head=mora_head)
    login(client, coordinator)
    response = client.post(
        reverse("workflows:agreement_open"),
        {"municipality": agreement.municipality_id, "plan_period": agreement.plan_period_id, "title": "Igen"},
    )
    assert response.status_code == 400
    assert "har redan en överenskommelse" in response.content.decode()
    assert type(agreement).objects.count() == 1


def test_submitting_an_empty_draft_is_refused(client, coordinator):
    from tests.workflows.helpers import draft_post

    agreement = agreement_in_stage(Stage.DRAFTING, coordinator=coordinator)
    login(client, coordinator)
    response = client.post(step_url(open_task(agreement, "draft")), draft_post("Titel", [], submit=True))
    assert response.status_code == 400
    assert "minst ett samverkansområde" in response.content.decode()
    assert Task.objects.filter(process__agreementprocess__agreement=agreement, status="DONE").count() == 1  # start only
