"""Dialogue meetings over HTTP, as the people who use them: a coordinator
records a meeting with minutes and action points (history says who and why);
bad action points are refused next to their field with nothing saved; a
municipal cultural head sees the meetings their municipality attended and only
their own action points; an auditor reads everything and changes nothing."""

import datetime
import hashlib

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape

from accounts.models import Role
from cases import display
from cases.models import ActionPoint, DialogueMeeting, Stage
from tests.factories import agreement_in_stage, municipality, user_with_role
from tests.workflows.helpers import login

from .conftest import PDF, meeting_post, minutes_pdf, sv

pytestmark = pytest.mark.django_db

NEW = reverse("workflows:meeting_new")


def history_counts():
    return (
        DialogueMeeting.objects.count(),
        ActionPoint.objects.count(),
        DialogueMeeting.history.count(),
        ActionPoint.history.count(),
    )


def area_of(agreement, word="Kulturskola"):
    return next(a for a in agreement.active_areas() if word in a.title)


def record(client, coordinator, agreements, *, participants=("Falun", "Mora", "Ludvika"), held_on=None):
    """A meeting recorded over HTTP with one action point each for Falun and Ludvika."""
    held_on = held_on or timezone.localdate() - datetime.timedelta(days=7)
    login(client, coordinator)
    response = client.post(
        NEW,
        meeting_post(
            held_on=held_on,
            participants=participants,
            minutes="Ludvika redovisade uppföljningen.",
            points=[
                {
                    "municipality": "Ludvika",
                    "area": area_of(agreements["Ludvika"]),
                    "description": "Plan för kulturskolans samverkan",
                    "owner_name": "Maria Sjö",
                    "due_on": held_on + datetime.timedelta(days=30),
                },
                {
                    "municipality": "Falun",
                    "description": "Synpunkter på utkastet",
                    "owner_name": "Karin Dahl",
                    "due_on": held_on + datetime.timedelta(days=10),
                },
            ],
            minutes_file=minutes_pdf(),
        ),
    )
    client.logout()
    return response


def test_coordinator_records_a_meeting_with_minutes_and_action_points(client, coordinator, agreements):
    response = record(client, coordinator, agreements)
    assert response.status_code == 302
    meeting = DialogueMeeting.objects.get()
    assert response["Location"] == reverse("workflows:meeting", args=[meeting.pk])
    assert sorted(m.name for m in meeting.participants.all()) == ["Falun", "Ludvika", "Mora"]
    assert meeting.minutes == "Ludvika redovisade uppföljningen."
    assert meeting.minutes_file_name == "protokoll-kulturdialog.pdf"
    assert meeting.minutes_file_size == len(PDF)
    assert meeting.minutes_file_sha256 == hashlib.sha256(PDF).hexdigest()
    assert meeting.created_by == coordinator

    ludvika, falun = meeting.action_points.order_by("-due_on")
    assert (ludvika.municipality.name, ludvika.area, ludvika.agreement) == (
        "Ludvika",
        area_of(agreements["Ludvika"]),
        agreements["Ludvika"],
    )
    # without an area, an action point still concerns the municipality's agreement of the period
    assert (falun.municipality.name, falun.area, falun.agreement) == ("Falun", None, agreements["Falun"])
    assert ludvika.status == falun.status == ActionPoint.Status.OPEN

    # History: who and why, for the meeting (created, then its participants) and each action point.
    reason = sv("Dialogue meeting recorded")
    meeting_rows = list(meeting.history.order_by("history_id"))
    assert [r.history_type for r in meeting_rows] == ["+", "~"]
    assert {(r.history_user, r.history_change_reason) for r in meeting_rows} == {(coordinator, reason)}
    assert sorted(p.organisation.name for p in meeting_rows[-1].participants.all()) == ["Falun", "Ludvika", "Mora"]
    point_rows = ActionPoint.history.filter(meeting_id=meeting.pk)
    assert point_rows.count() == 2
    assert {(r.history_user, r.history_change_reason, r.history_type) for r in point_rows} == {
        (coordinator, reason, "+")
    }

    # The meeting page shows it all, and the minutes can be downloaded by a participant.
    login(client, coordinator)
    page = client.get(response["Location"]).content.decode()
    assert "Plan för kulturskolans samverkan" in page and "Synpunkter på utkastet" in page
    assert "Ludvika redovisade uppföljningen." in page
    download = client.get(reverse("workflows:meeting_minutes", args=[meeting.pk]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF
    assert "protokoll-kulturdialog.pdf" in download["Content-Disposition"]


def test_action_point_status_change_keeps_the_reason(client, coordinator, agreements):
    record(client, coordinator, agreements)
    point = ActionPoint.objects.get(municipality__name="Falun")
    url = reverse("workflows:action_point_status", args=[point.pk])
    login(client, coordinator)
    response = client.post(url, {"status": "done", "reason": ""})
    assert response.status_code == 400
    assert "reason" in response.context["form"].errors
    point.refresh_from_db()
    assert point.status == ActionPoint.Status.OPEN

    response = client.post(url, {"status": "done", "reason": "Synpunkterna kom in den 3 maj."})
    assert response.status_code == 302
    point.refresh_from_db()
    assert point.status == ActionPoint.Status.DONE
    latest = point.history.latest()
    assert (latest.history_user, latest.history_change_reason) == (coordinator, "Synpunkterna kom in den 3 maj.")

    # marking it done twice is refused with a message, not a second change
    response = client.post(url, {"status": "done", "reason": "Igen"})
    assert response.status_code == 400
    assert "status" in response.context["form"].errors
    assert point.history.count() == 2


def test_action_point_added_later_for_a_participant_only(client, coordinator, agreements):
    record(client, coordinator, agreements, participants=("Falun", "Ludvika"))
    meeting = DialogueMeeting.objects.get()
    url = reverse("workflows:action_point_add", args=[meeting.pk])
    login(client, coordinator)
    due = (meeting.held_on + datetime.timedelta(days=5)).isoformat()
    # Mora did not take part: not even offered, so the choice is refused
    response = client.post(
        url,
        {
            "new-municipality": municipality("Mora").pk,
            "new-description": "X",
            "new-owner_name": "Y",
            "new-due_on": due,
        },
    )
    assert response.status_code == 400
    assert "municipality" in response.context["add_form"].errors
    response = client.post(
        url,
        {
            "new-municipality": municipality("Ludvika").pk,
            "new-area": area_of(agreements["Ludvika"], "chefsnätverk").pk,
            "new-description": "Bjud in till nätverksträff",
            "new-owner_name": "Maria Sjö",
            "new-due_on": due,
        },
    )
    assert response.status_code == 302
    added = meeting.action_points.get(description="Bjud in till nätverksträff")
    assert added.agreement == agreements["Ludvika"]
    assert added.history.get().history_change_reason == sv("Action point added to the dialogue meeting")


@pytest.mark.parametrize(
    "case",
    ["not_participating", "area_of_another_municipality", "due_before_meeting", "no_participants"],
)
def test_bad_meeting_input_is_refused_next_to_the_field_and_nothing_saved(client, coordinator, agreements, case):
    held_on = timezone.localdate() - datetime.timedelta(days=3)
    point = {
        "municipality": "Falun",
        "description": "Något att göra",
        "owner_name": "Karin Dahl",
        "due_on": held_on + datetime.timedelta(days=10),
    }
    participants = ("Falun", "Mora")
    if case == "not_participating":
        point["municipality"] = "Ludvika"
        field, message = (
            "municipality",
            sv(
                "%(municipality)s did not take part in the meeting. An action point can only be given to a "
                "participating municipality: add it to the participants or choose another municipality.",
                municipality="Ludvika",
            ),
        )
    elif case == "area_of_another_municipality":
        area = area_of(agreements["Ludvika"])
        point["area"] = area
        field, message = (
            "area",
            sv(
                "“%(area)s” is a collaboration area of %(other)s's agreement, not of %(municipality)s's. "
                "Choose one of %(municipality)s's areas, or none.",
                area=area.title,
                other="Ludvika",
                municipality="Falun",
            ),
        )
    elif case == "due_before_meeting":
        point["due_on"] = held_on - datetime.timedelta(days=1)
        with translation.override("sv"):
            day = display.day(held_on)
        field, message = "due_on", sv("The due date cannot be before the meeting (%(date)s).", date=day)
    else:
        participants = ()
        field, message = None, sv("Choose at least one participating municipality.")

    login(client, coordinator)
    before = history_counts()
    response = client.post(
        NEW,
        meeting_post(held_on=held_on, participants=participants, points=[point], minutes_file=minutes_pdf()),
    )
    assert response.status_code == 400
    html = response.content.decode()
    if field is None:
        assert response.context["form"].errors["participants"] == [message]
        assert 'id="id_participants_error"' in html
    else:
        assert response.context["formset"].forms[0].errors[field] == [message]
        # next to the field: in the error list Django's aria-describedby points at
        error_list = html.split(f'id="id_action_points-0-{field}_error"', 1)[1].split("</ul>", 1)[0]
        assert escape(message) in error_list
    assert history_counts() == before == (0, 0, 0, 0)


def test_falun_sees_its_meetings_and_only_its_own_action_points(client, coordinator, agreements, falun_head):
    record(client, coordinator, agreements)  # Falun, Mora, Ludvika
    attended = DialogueMeeting.objects.get()
    login(client, coordinator)
    response = client.post(
        NEW,
        meeting_post(
            held_on=timezone.localdate() - datetime.timedelta(days=2),
            place="Mora bibliotek",
            participants=("Mora", "Ludvika"),
            points=[
                {
                    "municipality": "Mora",
                    "description": "Mora ska återkomma",
                    "owner_name": "Lars Ek",
                    "due_on": timezone.localdate() + datetime.timedelta(days=20),
                }
            ],
        ),
    )
    assert response.status_code == 302
    not_attended = DialogueMeeting.objects.exclude(pk=attended.pk).get()
    client.logout()

    login(client, falun_head)
    listing = client.get(reverse("workflows:meetings"))
    assert [m.pk for m in listing.context["page"]] == [attended.pk]
    assert "Mora bibliotek" not in listing.content.decode()

    page = client.get(reverse("workflows:meeting", args=[attended.pk]))
    assert page.status_code == 200
    assert [p.municipality.name for p in page.context["action_points"]] == ["Falun"]
    html = page.content.decode()
    assert "Synpunkter på utkastet" in html
    assert "Plan för kulturskolans samverkan" not in html  # Ludvika's
    assert page.context["add_form"] is None  # reads only
    assert client.get(reverse("workflows:meeting_minutes", args=[attended.pk])).status_code == 200

    # The meeting Falun did not attend: 404 on every URL of it, and on its action points.
    mora_point = not_attended.action_points.get()
    ludvika_point = attended.action_points.get(municipality__name="Ludvika")
    for url in (
        reverse("workflows:meeting", args=[not_attended.pk]),
        reverse("workflows:meeting_minutes", args=[not_attended.pk]),
        reverse("workflows:action_point_add", args=[not_attended.pk]),
        reverse("workflows:action_point_status", args=[mora_point.pk]),
        reverse("workflows:action_point_status", args=[ludvika_point.pk]),
    ):
        for method in ("get", "post"):
            assert getattr(client, method)(url).status_code == 404, (method, url)
    # Falun's own action point: visible, but changing it is the coordinators' task
    falun_point = attended.action_points.get(municipality__name="Falun")
    response = client.post(
        reverse("workflows:action_point_status", args=[falun_point.pk]), {"status": "done", "reason": "Klart"}
    )
    assert response.status_code == 403
    assert client.post(NEW, meeting_post(held_on=timezone.localdate(), participants=["Falun"])).status_code == 403


def test_agreement_page_shows_the_meetings_and_action_points_that_concern_it(
    client, coordinator, agreements, falun_head, ludvika_head
):
    record(client, coordinator, agreements)
    meeting = DialogueMeeting.objects.get()
    login(client, ludvika_head)
    response = client.get(reverse("workflows:agreement", args=[agreements["Ludvika"].pk]))
    dialogue = response.context["dialogue"]
    assert [m.pk for m in dialogue.meetings] == [meeting.pk]
    assert [p.description for p in dialogue.action_points] == ["Plan för kulturskolans samverkan"]
    html = response.content.decode()
    assert reverse("workflows:meeting", args=[meeting.pk]) in html
    assert "Plan för kulturskolans samverkan" in html and "Synpunkter på utkastet" not in html
    client.logout()

    login(client, falun_head)
    html = client.get(reverse("workflows:agreement", args=[agreements["Falun"].pk])).content.decode()
    assert "Synpunkter på utkastet" in html and "Plan för kulturskolans samverkan" not in html
    # an agreement of a municipality that did not take part shows no meeting
    client.logout()
    borlange = agreement_in_stage(Stage.DRAFTING, "Borlänge", coordinator=coordinator)
    login(client, coordinator)
    dialogue = client.get(reverse("workflows:agreement", args=[borlange.pk])).context["dialogue"]
    assert dialogue.meetings == [] and dialogue.action_points == []


def test_auditor_reads_everything_but_every_post_is_refused(client, coordinator, agreements, auditor):
    record(client, coordinator, agreements)
    meeting = DialogueMeeting.objects.get()
    point = meeting.action_points.first()
    login(client, auditor)
    assert [m.pk for m in client.get(reverse("workflows:meetings")).context["page"]] == [meeting.pk]
    page = client.get(reverse("workflows:meeting", args=[meeting.pk]))
    assert page.status_code == 200
    assert len(page.context["action_points"]) == 2 and page.context["add_form"] is None
    assert client.get(reverse("workflows:meeting_minutes", args=[meeting.pk])).status_code == 200

    before = history_counts()
    assert client.get(NEW).status_code == 403
    posts = [
        (NEW, meeting_post(held_on=timezone.localdate(), participants=["Falun"])),
        (
            reverse("workflows:action_point_add", args=[meeting.pk]),
            {
                "new-municipality": municipality("Falun").pk,
                "new-description": "X",
                "new-owner_name": "Y",
                "new-due_on": timezone.localdate().isoformat(),
            },
        ),
        (reverse("workflows:action_point_status", args=[point.pk]), {"status": "done", "reason": "Klart"}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    assert history_counts() == before


def test_an_official_of_a_non_participant_sees_no_meeting(client, coordinator, agreements):
    record(client, coordinator, agreements)
    official = user_with_role(Role.OFFICIAL, "Borlänge")
    login(client, official)
    assert list(client.get(reverse("workflows:meetings")).context["page"]) == []
    assert client.get(reverse("workflows:meeting", args=[DialogueMeeting.objects.get().pk])).status_code == 404


def test_an_administrator_without_a_reading_role_sees_no_meeting_and_no_county(client, coordinator, agreements):
    record(client, coordinator, agreements)
    admin = user_with_role(Role.ADMINISTRATOR)
    login(client, admin)
    response = client.get(reverse("workflows:meetings"))
    assert response.status_code == 200 and list(response.context["page"]) == []
    assert client.get(reverse("workflows:meeting", args=[DialogueMeeting.objects.get().pk])).status_code == 404
    assert client.get(reverse("workflows:county")).status_code == 403
    assert client.get(reverse("workflows:county_csv")).status_code == 403
    assert client.get(reverse("workflows:coverage")).status_code == 403
    assert client.get(reverse("workflows:inbox")).context["own_overview"] is None
