"""Every date and time parameter of every page, at and beyond the ends of the
calendar: ``?date_to=9999-12-31`` once answered 500 (a date overflow) on the
audit log and both exports. Each value gets a page (with an error next to the
field where it is not a usable date) or a 4xx, never a 5xx.

``test_every_date_field_of_every_form_is_covered`` finds the date and time
fields of every form class, so a new one cannot be added without a line in
PARAMETERS below."""

import datetime
import importlib
import pkgutil

import pytest
from django import forms
from django.db import transaction
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from cases.models import Stage
from tests.county.conftest import meeting_post
from tests.factories import agreement_in_stage, municipality
from tests.factories.accounts import PASSWORD
from tests.workflows.helpers import open_task, step_url

pytestmark = pytest.mark.django_db

DATES = [
    "9999-12-31",
    "9999-12-30",
    "0001-01-01",
    "1-01-01",
    "0000-00-00",
    "10000-01-01",
    "1899-12-31",
    "1900-01-01",
    "2026-02-30",
    "-2026-01-01",
    "99999999",
    "2026-12-31T23:59",
    "",
]
TIMES = DATES + [
    "9999-12-31T23:59",
    "9999-12-31 23:59:59",
    "9999-01-01T00:00",
    "0001-01-01T00:00",
    "1900-01-01T00:00",
    "10000-01-01T00:00",
    "2026-13-01T00:00",
    "2026-03-29T02:30",  # does not exist in Stockholm (summer time begins)
    "2026-10-25T02:30",  # exists twice
]
CURSORS = [
    f"{moment}~cases.agreement~1"
    for moment in (
        "9999-12-31T23:59:59.999999+14:00",
        "9999-12-31T23:59:59.999999-14:00",
        "0001-01-01T00:00:00+14:00",
        "0001-01-01T00:00:00-14:00",
        "0001-01-01T00:00:00+00:00",
        "2026-03-02T10:00:00+99:00",
        "2026-03-02T10:00:00",
    )
]

# (form class, field): how the test sends it. Every date or time field of every form is here.
PARAMETERS = {
    ("LogFilterForm", "date_from"): "audit log and exports",
    ("LogFilterForm", "date_to"): "audit log and exports",
    ("LogFilterForm", "after"): "audit log and exports (the page cursor holds a time)",
    ("AsOfForm", "tid"): "the agreement as of a time",
    ("DecisionForm", "meeting_date"): "decision step",
    ("DueDateForm", "due_on"): "a step's due date",
    ("MeetingForm", "held_on"): "new dialogue meeting",
    ("ActionPointForm", "due_on"): "new dialogue meeting, and an action point added later",
    ("AbsenceForm", "starts_on"): "an absence and its substitute",
    ("AbsenceForm", "ends_on"): "an absence and its substitute",
    ("PeriodForm", "starts_on"): "a new plan period, and a period edited",
    ("PeriodForm", "ends_on"): "a new plan period, and a period edited",
}


def _is_date_field(field):
    return isinstance(field, forms.DateField | forms.DateTimeField | forms.TimeField) or isinstance(
        field.widget, forms.DateInput | forms.DateTimeInput | forms.TimeInput
    )


def _form_classes():
    for package in ("accounts", "cases", "workflows"):
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, f"{package}."):
            if ".migrations" in info.name or ".management" in info.name:
                continue
            module = importlib.import_module(info.name)
            for value in vars(module).values():
                if isinstance(value, type) and issubclass(value, forms.BaseForm) and value.__module__ == info.name:
                    yield value


def test_every_date_field_of_every_form_is_covered():
    found = {
        (form.__name__, name)
        for form in _form_classes()
        for name, field in getattr(form, "base_fields", {}).items()
        if _is_date_field(field)
    }
    assert found, "no date fields found: the discovery is broken"
    assert found <= set(PARAMETERS), f"add these date/time fields to PARAMETERS: {sorted(found - set(PARAMETERS))}"


def client_for(user):
    client = Client(raise_request_exception=False)
    assert client.login(email=user.email, password=PASSWORD)
    return client


def answered(response, what):
    assert response.status_code < 500, f"{what}: {response.status_code}"
    return response


def undone(request):
    """Send a request whose writes are rolled back, so that every value meets the same open step."""
    with transaction.atomic():
        response = request()
        transaction.set_rollback(True)
    return response


@pytest.fixture
def coordinator_client(coordinator):
    return client_for(coordinator)


def test_audit_log_and_both_exports(coordinator_client, auditor):
    reader = client_for(auditor)
    for name in ("workflows:audit_log", "workflows:audit_export_csv", "workflows:audit_export_jsonl"):
        url = reverse(name)
        for value in DATES:
            for params in ({"date_from": value}, {"date_to": value}, {"date_from": value, "date_to": value}):
                answered(reader.get(url, params), f"{name} {params}")
        answered(reader.get(url, {"date_from": "0001-01-01", "date_to": "9999-12-31"}), name)
        for cursor in CURSORS:
            answered(reader.get(url, {"after": cursor}), f"{name} after={cursor}")


def test_the_open_ended_range_is_every_row(auditor):
    """9999-12-31 as the end date means "no end": the log is the same as unfiltered."""
    reader = client_for(auditor)
    url = reverse("workflows:audit_log")
    everything = reader.get(url).content.decode()
    for params in ({"date_to": "9999-12-31"}, {"date_from": "0001-01-01", "date_to": "9999-12-31"}):
        response = reader.get(url, params)
        assert response.status_code == 200
        assert response.content.decode().count("<tr") == everything.count("<tr")


def test_the_agreement_as_of_a_time(coordinator, coordinator_client):
    agreement = agreement_in_stage(Stage.REVIEW, "Mora", coordinator=coordinator)
    url = reverse("workflows:agreement_as_of", args=[agreement.pk])
    for value in TIMES:
        answered(coordinator_client.get(url, {"tid": value}), f"as of {value!r}")
    # The timeline takes no dates, only its filters.
    answered(coordinator_client.get(reverse("workflows:agreement_timeline", args=[agreement.pk])), "timeline")


def test_the_dates_of_the_steps(coordinator, mora_head):
    region = client_for(coordinator)
    approval = agreement_in_stage(Stage.APPROVAL, "Mora", coordinator=coordinator, head=mora_head)
    review = agreement_in_stage(Stage.REVIEW, "Orsa", coordinator=coordinator)
    decision = step_url(open_task(approval, "region_decision"))
    task = open_task(review, "review")
    due = reverse("workflows:step_due_date", args=[review.pk, task.pk])
    codes = set()
    for value in DATES:
        for url, data in (
            (decision, {"body": "Regionstyrelsen", "meeting_date": value, "paragraph": "§ 1", "outcome": "approved"}),
            (due, {"due_on": value, "reason": "Flyttad"}),
        ):
            response = answered(undone(lambda url=url, data=data: region.post(url, data)), f"{url} {value!r}")
            codes.add(response.status_code)
    assert codes == {302, 400}  # each form was reached every time: accepted (then undone) or refused


def test_the_dates_of_dialogue_meetings(coordinator, coordinator_client, falun_head):
    agreement_in_stage(Stage.REVIEW, "Falun", coordinator=coordinator, head=falun_head)
    for value in DATES:
        for held_on, due_on in ((value, "2026-06-01"), ("2026-05-01", value)):
            data = meeting_post(
                held_on=held_on,
                participants=("Falun",),
                minutes="Protokoll",
                points=[{"municipality": "Falun", "description": "Följa upp", "owner_name": "Karin", "due_on": due_on}],
            )
            answered(
                undone(lambda data=data: coordinator_client.post(reverse("workflows:meeting_new"), data)),
                f"meeting {held_on}/{due_on}",
            )
    from cases.models import DialogueMeeting

    data = meeting_post(held_on=datetime.date(2026, 5, 1), participants=("Falun",), minutes="Protokoll")
    assert coordinator_client.post(reverse("workflows:meeting_new"), data).status_code == 302
    meeting = DialogueMeeting.objects.get()
    url = reverse("workflows:action_point_add", args=[meeting.pk])
    for value in DATES:
        data = {
            "new-municipality": municipality("Falun").pk,
            "new-description": "X",
            "new-owner_name": "Y",
            "new-due_on": value,
        }
        answered(undone(lambda data=data: coordinator_client.post(url, data)), f"action point {value!r}")


def test_the_dates_of_absences(falun_head):
    """The absence form as its owner sends it, with a substitute who may stand in."""
    from tests.factories import user_with_role

    substitute = user_with_role(Role.OFFICIAL, "Falun", full_name="Olle Falun")
    client = client_for(falun_head)
    url = reverse("accounts:absences")
    codes = set()
    for value in DATES:
        for starts_on, ends_on in ((value, "2026-12-31"), ("2026-12-01", value), (value, value)):
            data = {"starts_on": starts_on, "ends_on": ends_on, "substitute": substitute.pk}
            response = answered(undone(lambda data=data: client.post(url, data)), f"absence {starts_on}/{ends_on}")
            codes.add(response.status_code)
    assert 400 in codes or 200 in codes  # refused next to the field, never a 500


def test_the_dates_of_plan_periods(coordinator, coordinator_client):
    from cases.models import PlanPeriod

    new = reverse("workflows:plan_period_new")
    period = PlanPeriod.objects.get(name="2023–2026")
    edit = reverse("workflows:plan_period", args=[period.pk])
    version = period.history.order_by("-history_id").first().history_id
    for value in DATES:
        for starts_on, ends_on in ((value, "2034-12-31"), ("2031-01-01", value)):
            data = {"name": "2031–2034", "starts_on": starts_on, "ends_on": ends_on}
            answered(undone(lambda data=data: coordinator_client.post(new, data)), f"new period {starts_on}/{ends_on}")
        for starts_on, ends_on in ((value, "2026-12-31"), ("2023-01-01", value)):
            data = {"name": "2023–2026", "starts_on": starts_on, "ends_on": ends_on, "is_active": "on"}
            data["version"] = version
            answered(undone(lambda data=data: coordinator_client.post(edit, data)), f"period {starts_on}/{ends_on}")
