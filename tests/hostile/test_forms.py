"""Hostile input, property-based (hypothesis): every form is filled with random
and hostile values — very long strings, control characters, HTML and script,
impossible dates, wrong and renamed files. Each answer is a page with errors or
a 4xx, never a 5xx, and whatever is shown back is escaped."""

from contextlib import contextmanager

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cases.models import Stage
from tests.factories import agreement_in_stage
from tests.factories.accounts import PASSWORD
from tests.workflows.helpers import open_task, step_url

pytestmark = pytest.mark.django_db
EXAMPLES = 40
COUNTED = {"inputs": 0}

SCRIPT = "<script>alert(1)</script>"
hostile_text = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x1F), max_size=50),  # control characters
    st.sampled_from(
        [
            SCRIPT,
            '"><img src=x onerror=alert(1)>',
            "' OR 1=1 --",
            "§§§",
            "\u202e\u200b",
            "NaN",
            "9" * 400,
            "a" * 20_000,
            "2026-02-30",
            "-1",
            "../../etc/passwd",
            "{{ 7*7 }}",
            "%(x)s",
        ]
    ),
)
hostile_date = st.one_of(
    st.dates().map(lambda d: d.isoformat()),
    st.sampled_from(
        ["2026-02-30", "0000-00-00", "9999-99-99", "31/12/2026", "", "igår", "2026-13-01", SCRIPT]
        + ["9999-12-31", "0001-01-01", "10000-01-01"]  # the ends of the calendar (see test_dates.py)
    ),
    st.text(max_size=20),
)
# Files: executables named .pdf, renamed images, empty files, zip bombs' little cousins.
hostile_file = st.sampled_from(
    [
        ("protokoll.pdf", b"MZ\x90\x00\x03 this program cannot be run in DOS mode"),
        ("bild.pdf", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64),
        ("tom.pdf", b""),
        ("dokument.docx", b"PK\x03\x04 not really a zip"),
        ("skript.pdf", SCRIPT.encode()),
        (SCRIPT + ".pdf", b"%PDF-1.4 ok"),
        ("ok.pdf", b"%PDF-1.4\n%%EOF"),
    ]
)


@contextmanager
def undone():
    """Each example starts from the same state: its writes are rolled back."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def client_for(user):
    client = Client(raise_request_exception=False)
    assert client.login(email=user.email, password=PASSWORD)
    return client


def check(response):
    COUNTED["inputs"] += 1
    assert response.status_code < 500, response.status_code
    body = response.content.decode("utf-8", "replace")
    assert SCRIPT not in body, "unescaped script reflected"
    assert "onerror=alert(1)>" not in body


HYPOTHESIS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def coordinator_client(coordinator):
    return client_for(coordinator)


@pytest.fixture
def in_stage(coordinator, mora_head):
    made = {}

    def get(stage):
        if stage not in made:
            made[stage] = agreement_in_stage(
                stage,
                ["Mora", "Falun", "Orsa", "Leksand", "Gagnef"][len(made)],
                coordinator=coordinator,
                head=mora_head if not made else None,
            )
        return made[stage]

    return get


@HYPOTHESIS
@given(title=hostile_text, period=st.one_of(st.integers(-5, 10**12).map(str), hostile_text), kommun=hostile_text)
def test_open_agreement(coordinator_client, title, period, kommun):
    with undone():
        check(
            coordinator_client.post(
                reverse("workflows:agreement_open"), {"title": title, "plan_period": period, "municipality": kommun}
            )
        )


@HYPOTHESIS
@given(q=hostile_text, stage=hostile_text, period=hostile_text, page=hostile_text, overdue=hostile_text)
def test_agreement_list_filters(coordinator_client, q, stage, period, page, overdue):
    check(
        coordinator_client.get(
            reverse("workflows:agreements"),
            {"q": q, "stage": stage, "plan_period": period, "page": page, "overdue": overdue},
        )
    )


@HYPOTHESIS
@given(
    data=st.fixed_dictionaries(
        {
            "body": hostile_text,
            "meeting_date": hostile_date,
            "paragraph": hostile_text,
            "outcome": st.one_of(st.sampled_from(["approved", "rejected", "returned"]), hostile_text),
            "ends_agreement": hostile_text,
        }
    ),
    upload=st.one_of(st.none(), hostile_file),
)
def test_decision_step(coordinator, in_stage, data, upload):
    agreement = in_stage(Stage.APPROVAL)
    payload = dict(data)
    if upload:
        payload["minutes"] = SimpleUploadedFile(upload[0], upload[1], content_type="application/pdf")
    with undone():
        check(client_for(coordinator).post(step_url(open_task(agreement, "region_decision")), payload))


@HYPOTHESIS
@given(
    title=hostile_text,
    n=st.integers(0, 3),
    fields=st.lists(hostile_text, min_size=12, max_size=12),
    total=st.one_of(st.just(None), hostile_text),
    submit=st.booleans(),
)
def test_draft_step(coordinator, in_stage, title, n, fields, total, submit):
    agreement = in_stage(Stage.DRAFTING)
    data = {
        "title": title,
        "areas-TOTAL_FORMS": total if total is not None else str(n),
        "areas-INITIAL_FORMS": "0",
        "areas-MIN_NUM_FORMS": "0",
        "areas-MAX_NUM_FORMS": "1000",
    }
    for i in range(n):
        for j, key in enumerate(("title", "goal", "region_commitment", "municipality_commitment")):
            data[f"areas-{i}-{key}"] = fields[(i * 4 + j) % 12]
        data[f"areas-{i}-id"] = fields[(i + 7) % 12]
        data[f"areas-{i}-priorities"] = fields[(i + 3) % 12]
    data["submit_for_review" if submit else "save"] = "1"
    with undone():
        check(client_for(coordinator).post(step_url(open_task(agreement, "draft")), data))


@HYPOTHESIS
@given(verdict=hostile_text, comment=hostile_text, extra=hostile_text)
def test_review_step(mora_head, in_stage, verdict, comment, extra):
    agreement = in_stage(Stage.REVIEW)
    data = {"verdict": verdict, "comment": comment, "area_999999": extra, "area_abc": extra}
    with undone():
        check(client_for(mora_head).post(step_url(open_task(agreement, "review")), data))


@HYPOTHESIS
@given(password=hostile_text, digest=hostile_text)
def test_sign_step(mora_head, in_stage, password, digest):
    agreement = in_stage(Stage.SIGNING)
    data = {"password": password, "code": password, "document_sha256": digest}
    with undone():
        check(client_for(mora_head).post(step_url(open_task(agreement, "sign_municipality")), data))


@HYPOTHESIS
@given(signatory=hostile_text, digest=hostile_text, upload=st.one_of(st.none(), hostile_file))
def test_paper_signature(coordinator, in_stage, signatory, digest, upload):
    agreement = in_stage(Stage.SIGNING)
    data = {"signatory": signatory, "document_sha256": digest}
    if upload:
        data["signed_copy"] = SimpleUploadedFile(upload[0], upload[1])
    url = reverse("workflows:paper_signature", args=[agreement.pk, "municipality"])
    with undone():
        check(client_for(coordinator).post(url, data))


@HYPOTHESIS
@given(reason=hostile_text, due_on=hostile_date, upload=hostile_file)
def test_withdraw_due_date_and_attachments(coordinator, in_stage, reason, due_on, upload):
    agreement = in_stage(Stage.REVIEW)
    client = client_for(coordinator)
    task = open_task(agreement, "review")
    with undone():
        check(
            client.post(
                reverse("workflows:step_due_date", args=[agreement.pk, task.pk]), {"due_on": due_on, "reason": reason}
            )
        )
        check(
            client.post(
                reverse("workflows:attachment_upload", args=[agreement.pk]),
                {"file": SimpleUploadedFile(upload[0], upload[1])},
            )
        )
        check(client.post(reverse("workflows:agreement_withdraw", args=[agreement.pk]), {"reason": reason}))


@HYPOTHESIS
@given(left=hostile_text, right=hostile_text, period=hostile_text, title=hostile_text)
def test_compare_and_renew(coordinator, in_stage, left, right, period, title):
    agreement = in_stage(Stage.IN_FORCE)
    client = client_for(coordinator)
    with undone():
        check(client.get(reverse("workflows:agreement_compare", args=[agreement.pk]), {"left": left, "right": right}))
        check(
            client.post(
                reverse("workflows:agreement_renew", args=[agreement.pk]), {"plan_period": period, "title": title}
            )
        )
        check(client.post(reverse("workflows:offer_all"), {"plan_period": period}))


@HYPOTHESIS
@given(email=hostile_text, password=hostile_text, language=hostile_text, next_url=hostile_text)
def test_login_and_language(client, email, password, language, next_url):
    with undone():
        check(client.post(reverse("login"), {"username": email, "password": password, "next": next_url}))
        check(client.post(reverse("set_language"), {"language": language, "next": next_url}))


@HYPOTHESIS
@given(path=st.sampled_from(["abc", "-1", "99999999999999999999", "0", "%00", "..%2f"]))
def test_hostile_ids_in_urls(coordinator_client, path):
    for url in (f"/arbete/overenskommelser/{path}/", f"/arbete/steg/{path}/review/{path}/", f"/arbete/bilagor/{path}/"):
        check(coordinator_client.get(url))


def test_report_the_number_of_hostile_inputs(capsys):
    """Prints how many hostile inputs the suite sent (for the closing note)."""
    with capsys.disabled():
        print(f"\nhostile inputs sent in this run: {COUNTED['inputs']}")
    assert COUNTED["inputs"] > 0
