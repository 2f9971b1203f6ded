"""A form that comes back names every problem at once, each in the error
summary with a link to its field, and says when a chosen file must be chosen
again (a browser cannot be given it back)."""

import datetime
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from cases.models import ActionPoint, DialogueMeeting
from tests.county.conftest import meeting_post, minutes_pdf
from tests.workflows.helpers import login

pytestmark = pytest.mark.django_db

NEW = reverse("workflows:meeting_new")


def summary_links(html):
    """{href: text} of the links in the error summary."""
    summary = html.split('class="error-summary"', 1)[1].split("</div>", 1)[0]
    return dict(re.findall(r'<a href="#([^"]+)">([^<]+)</a>', summary))


def test_the_meeting_form_names_all_four_bad_inputs_at_once(client, coordinator, agreements):
    ludvika_area = next(a for a in agreements["Ludvika"].active_areas())
    data = meeting_post(
        held_on=datetime.date(2099, 5, 4),
        participants=("Falun", "Mora"),
        points=[
            {
                "municipality": "Falun",
                "description": "Synpunkter på utkastet",
                "owner_name": "Karin Dahl",
                "due_on": datetime.date(2020, 3, 2),
            },
            {
                "municipality": "Mora",
                "area": ludvika_area,
                "description": "Något om kulturskolan",
                "owner_name": "Per Mora",
                "due_on": datetime.date(2099, 6, 1),
            },
        ],
        minutes_file=SimpleUploadedFile("protokoll.pdf", b"this is no pdf at all", content_type="application/pdf"),
    )
    login(client, coordinator)
    response = client.post(NEW, data)
    assert response.status_code == 400
    links = summary_links(response.content.decode())
    assert set(links) == {
        "id_minutes_file",
        "id_held_on",
        "id_action_points-0-due_on",
        "id_action_points-1-area",
    }, links
    assert links["id_action_points-1-area"].startswith("Åtgärdspunkt 2, ")
    # each link leads to a field that is on the page
    html = response.content.decode()
    for target in links:
        assert f'id="{target}"' in html
    assert DialogueMeeting.objects.count() == ActionPoint.objects.count() == 0


def test_a_good_file_with_another_error_is_asked_for_again(client, coordinator, agreements):
    data = meeting_post(
        held_on=timezone.localdate() + datetime.timedelta(days=30),
        participants=("Falun",),
        minutes_file=minutes_pdf("protokoll-mars.pdf"),
    )
    login(client, coordinator)
    response = client.post(NEW, data)
    assert response.status_code == 400
    links = summary_links(response.content.decode())
    assert set(links) == {"id_held_on", "id_minutes_file"}
    assert "protokoll-mars.pdf" in links["id_minutes_file"]
    assert DialogueMeeting.objects.count() == 0


def test_a_form_without_file_does_not_mention_one(client, coordinator, agreements):
    data = meeting_post(held_on=timezone.localdate() + datetime.timedelta(days=30), participants=("Falun",))
    login(client, coordinator)
    links = summary_links(client.post(NEW, data).content.decode())
    assert set(links) == {"id_held_on"}
