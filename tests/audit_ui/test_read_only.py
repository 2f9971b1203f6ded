"""An auditor reads everything and changes nothing: every POST to a writing
URL gets 403, and no table of the audit trail (nor any agreement) changes."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cases.audit.models import AuditExport
from cases.models import Agreement, Stage
from tests.factories import agreement_in_stage, current_period, municipality
from tests.workflows.helpers import login, open_task, step_url, task_states

from .conftest import all_rows

pytestmark = pytest.mark.django_db


def test_an_auditor_can_post_to_no_writing_url(client, auditor, coordinator, mora_head):
    review = agreement_in_stage(Stage.REVIEW, "Mora", coordinator=coordinator, head=mora_head)
    in_force = agreement_in_stage(Stage.IN_FORCE, "Falun", coordinator=coordinator)
    task = open_task(review, "review")
    login(client, auditor)
    before = (all_rows(), list(Agreement.objects.order_by("pk").values()), task_states(review))

    pdf = SimpleUploadedFile("x.pdf", b"%PDF-1.4\n1 0 obj <<>> endobj\n", "application/pdf")
    posts = [
        (
            reverse("workflows:agreement_open"),
            {"municipality": municipality("Mora").pk, "plan_period": current_period().pk, "title": "X"},
        ),
        (reverse("workflows:agreement_withdraw", args=[review.pk]), {"reason": "Revisorn vill."}),
        (step_url(task), {"verdict": "accept"}),
        (reverse("workflows:step_due_date", args=[review.pk, task.pk]), {"due_on": "2030-01-01", "reason": "x"}),
        (reverse("workflows:attachment_upload", args=[review.pk]), {"file": pdf}),
        (reverse("workflows:agreement_renew", args=[in_force.pk]), {"plan_period": current_period().pk}),
        (reverse("workflows:offer_all"), {"plan_period": current_period().pk}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url

    assert (all_rows(), list(Agreement.objects.order_by("pk").values()), task_states(review)) == before
    assert not AuditExport.objects.exists()
    # Reading is allowed, and reading writes nothing but an export's own record.
    assert client.get(reverse("workflows:agreement_timeline", args=[review.pk])).status_code == 200
    assert client.get(reverse("workflows:audit_log")).status_code == 200
    assert all_rows() == before[0]


def test_the_audit_pages_only_read(client, auditor, coordinator):
    """A POST to a reading page is refused (405) once the reader may see it, and
    exports nothing."""
    agreement = agreement_in_stage(Stage.DRAFTING, "Mora", coordinator=coordinator)
    login(client, auditor)
    for url in (
        reverse("workflows:agreement_timeline", args=[agreement.pk]),
        reverse("workflows:agreement_as_of", args=[agreement.pk]),
        reverse("workflows:audit_log"),
        reverse("workflows:audit_export_csv"),
        reverse("workflows:audit_export_jsonl"),
    ):
        assert client.post(url).status_code == 405, url
        assert client.head(url).status_code == 200, url
    assert not AuditExport.objects.exists()  # HEAD sends no rows, so no export happened
