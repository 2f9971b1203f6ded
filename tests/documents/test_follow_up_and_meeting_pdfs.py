"""The yearly follow-up and the dialogue meeting's minutes with action points
as PDF/A (issue #12 item 5), downloaded over HTTP: Swedish, PDF/A-2b with every
font embedded, "Sida x av y" on each page; a meeting's PDF holds only the action
points the reader may see; another municipality's user gets 404 for a follow-up."""

import io
import re

import pikepdf
import pytest
from django.urls import reverse

from cases.models import FollowUpEntry
from tests.documents.test_decision_material import embedded_fonts, pdf_pages_text
from tests.factories import ActionPointFactory, DialogueMeetingFactory, FollowUpFactory, municipality
from tests.workflows.helpers import login

pytestmark = pytest.mark.django_db


def pdf_of(response) -> bytes:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    return response.content


def assert_archival(data: bytes):
    with pikepdf.open(io.BytesIO(data)) as pdf:
        meta = pdf.open_metadata()
        assert (meta["pdfaid:part"], meta["pdfaid:conformance"]) == ("2", "B")
    assert all(embedded == "yes" for _name, embedded in embedded_fonts(data))
    pages = pdf_pages_text(data)
    for number, page in enumerate(pages, start=1):
        assert re.search(rf"Sida {number} av {len(pages)}\b", page)
    return pages


def words(pages) -> str:
    """The text with every run of white space as one space (table cells wrap lines)."""
    return " ".join(" ".join(pages).split())


def test_a_follow_up_as_pdf(client, mora_head, falun_head):
    follow_up = FollowUpFactory()
    entry = FollowUpEntry.objects.get(follow_up=follow_up)
    entry.progress = FollowUpEntry.Progress.ON_TRACK
    entry.narrative = "Nätverket har träffats fyra gånger under året."
    entry.save()
    url = reverse("workflows:follow_up_pdf", args=[follow_up.pk])

    login(client, mora_head)
    text = words(assert_archival(pdf_of(client.get(url))))
    assert f"Uppföljning {follow_up.year}" in text
    assert follow_up.agreement.case_number in text
    assert "Nätverket har träffats fyra gånger under året." in text
    client.logout()

    login(client, falun_head)
    assert client.get(url).status_code == 404


def test_a_meeting_as_pdf_shows_only_the_action_points_the_reader_may_see(client, coordinator, mora_head):
    meeting = DialogueMeetingFactory(participants=[municipality("Mora"), municipality("Falun")])
    meeting.minutes = "Vi diskuterade kulturskolornas samverkan."
    meeting.save()
    ActionPointFactory(meeting=meeting, description="Moras inbjudan")
    ActionPointFactory(meeting=meeting, municipality=municipality("Falun"), description="Faluns underlag")
    url = reverse("workflows:meeting_pdf", args=[meeting.pk])

    login(client, coordinator)
    text = words(assert_archival(pdf_of(client.get(url))))
    assert f"Regional kulturdialog {meeting.held_on:%Y-%m-%d}" in text  # the footer
    assert "Regional kulturdialog" in text and "Vi diskuterade kulturskolornas samverkan." in text
    assert "Moras inbjudan" in text and "Faluns underlag" in text
    client.logout()

    login(client, mora_head)
    text = words(pdf_pages_text(pdf_of(client.get(url))))
    assert "Moras inbjudan" in text
    assert "Faluns underlag" not in text
