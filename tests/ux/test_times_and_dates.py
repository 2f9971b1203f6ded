"""Every time a person reads is Swedish local time in one format; every date
in running text one format ("27 november 2026"). The 409 page of a step
finished by someone else says the same time as the agreement page."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import Role
from cases import display
from cases.models import Stage
from tests.county.conftest import meeting_post, minutes_pdf
from tests.factories import agreement_in_stage, user_with_role
from tests.workflows.helpers import login, open_task, step_url

pytestmark = pytest.mark.django_db


def test_the_conflict_page_and_the_agreement_page_say_the_same_local_time(client, coordinator, mora_head):
    second_head = user_with_role(Role.CULTURAL_HEAD, "Mora")
    agreement = agreement_in_stage(Stage.REVIEW, coordinator=coordinator, head=mora_head)
    task = open_task(agreement, "review")
    login(client, mora_head)
    assert client.post(step_url(task), {"verdict": "accept"}).status_code == 302
    client.logout()
    task.refresh_from_db()

    login(client, second_head)
    conflict = client.get(step_url(task)).content.decode()
    page = client.get(reverse("workflows:agreement", args=[agreement.pk])).content.decode()

    with translation.override("sv"):
        local = display.when(task.finished)
    utc = task.finished.astimezone(datetime.UTC)
    assert re.fullmatch(r"\d{1,2} [a-zåäö]+ \d{4} \d{2}:\d{2}", local)
    assert local in conflict
    assert local in page
    # the UTC time, and the ISO form, are not what a person reads
    assert f"{utc:%H:%M}" != f"{timezone.localtime(task.finished):%H:%M}"
    assert f"{utc:%Y-%m-%d %H:%M}" not in conflict
    assert f"{task.finished.astimezone(datetime.UTC):%Y-%m-%d}" not in conflict


def test_the_meeting_message_writes_the_date_as_the_page_does(client, coordinator, falun_head):
    held_on = timezone.localdate() - datetime.timedelta(days=7)
    login(client, coordinator)
    response = client.post(
        reverse("workflows:meeting_new"),
        meeting_post(held_on=held_on, participants=("Falun",), minutes_file=minutes_pdf()),
        follow=True,
    )
    assert response.status_code == 200
    message = " ".join(str(m) for m in response.context["messages"])
    with translation.override("sv"):
        day = display.day(held_on)
    assert day in message
    assert held_on.isoformat() not in message
    assert day in response.content.decode().split("<h1", 1)[1]


def test_sign_ins_page_shows_local_time_in_the_one_format(client, mora_head):
    login(client, mora_head)
    html = client.get(reverse("accounts:sign_ins")).content.decode()
    assert not re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", html)
    assert re.search(r"\d{1,2} [a-zåäö]+ \d{4} \d{2}:\d{2}", html)
