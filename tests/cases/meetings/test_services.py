"""cases.meetings.services, called directly: recording a dialogue meeting with
its action points, adding one later, marking one done; the rules on each
action point and the history rows each step writes."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts import audit_reasons as reasons
from cases.meetings import services
from cases.meetings.services import ActionPointInput
from cases.models import ActionPoint, DialogueMeeting
from tests.cases.helpers import TODAY, history_written, rows
from tests.factories import (
    ActionPointFactory,
    AgreementFactory,
    CollaborationAreaFactory,
    DialogueMeetingFactory,
    municipality,
)

pytestmark = pytest.mark.django_db

HELD_ON = TODAY - datetime.timedelta(days=7)


def point(name="Mora", **changes):
    values = {
        "municipality": municipality(name),
        "description": "Bjuda in till nästa träff.",
        "owner_name": "Lars Ek, kulturchef",
        "due_on": HELD_ON + datetime.timedelta(days=30),
    }
    return ActionPointInput(**{**values, **changes})


def record(actor, **changes):
    values = {
        "held_on": HELD_ON,
        "place": "Dalarnas museum, Falun",
        "participants": [municipality("Mora"), municipality("Falun")],
        "minutes": "Vi talade om kulturskolan.",
    }
    return services.meeting_record(actor=actor, **{**values, **changes})


def test_a_meeting_with_its_action_points_and_minutes(coordinator):
    mora_agreement = AgreementFactory(in_force=True)
    area = mora_agreement.active_areas().get()
    with history_written() as written:
        meeting = record(
            coordinator,
            minutes_file=SimpleUploadedFile("protokoll.pdf", b"%PDF-1.4\n%%EOF\n"),
            action_points=[point("Mora"), point("Falun", area=None), point("Mora", area=area)],
        )
    assert (meeting.place, meeting.created_by, meeting.minutes_file_name) == (
        "Dalarnas museum, Falun",
        coordinator,
        "protokoll.pdf",
    )
    assert {m.name for m in meeting.participants.all()} == {"Mora", "Falun"}
    points = {(p.municipality.name, p.area_id, p.agreement_id) for p in meeting.action_points.all()}
    # A point without an area still concerns the municipality's live agreement of the period; Falun has none.
    assert points == {("Mora", None, mora_agreement.pk), ("Falun", None, None), ("Mora", area.pk, mora_agreement.pk)}
    recorded = reasons.MEETING_RECORDED
    assert written == rows(
        ("actionpoint", "+", coordinator, recorded),
        ("actionpoint", "+", coordinator, recorded),
        ("actionpoint", "+", coordinator, recorded),
        ("dialoguemeeting", "+", coordinator, recorded),
        ("dialoguemeeting", "~", coordinator, recorded),  # the participants
    )


def test_every_error_is_named_with_its_field_and_nothing_is_saved(coordinator):
    orsa_area = CollaborationAreaFactory(agreement__municipality=municipality("Orsa"))
    with pytest.raises(ValidationError) as error:
        record(
            coordinator,
            held_on=TODAY + datetime.timedelta(days=1),
            place=" ",
            action_points=[
                point("Orsa"),  # did not take part
                point("Mora", description=" ", owner_name=""),
                point("Mora", area=orsa_area),  # another municipality's area
            ],
        )
    assert set(error.value.message_dict) == {
        "held_on",
        "place",
        "action_points-0-municipality",
        "action_points-1-description",
        "action_points-1-owner_name",
        "action_points-2-area",
    }
    with pytest.raises(ValidationError) as error:
        record(coordinator, participants=[], action_points=[point("Mora", due_on=HELD_ON - datetime.timedelta(days=1))])
    assert set(error.value.message_dict) == {"participants", "action_points-0-municipality", "action_points-0-due_on"}
    assert not DialogueMeeting.objects.exists() and not ActionPoint.objects.exists()


def test_an_area_no_longer_in_use_cannot_take_a_point(coordinator):
    withdrawn = AgreementFactory(withdrawn=True)
    with pytest.raises(ValidationError) as error:
        record(coordinator, action_points=[point("Mora", area=withdrawn.active_areas().get())])
    assert set(error.value.message_dict) == {"action_points-0-area"}


def test_only_coordinators_record_meetings(mora_head, auditor):
    for user in (mora_head, auditor):
        with pytest.raises(PermissionDenied):
            record(user)
    assert not DialogueMeeting.objects.exists()


def test_an_action_point_added_later_says_why(coordinator):
    meeting = DialogueMeetingFactory(held_on=HELD_ON, participants=[municipality("Mora")])
    with history_written() as written:
        added = services.action_point_add(
            actor=coordinator,
            meeting=meeting,
            municipality=municipality("Mora"),
            description="Skicka underlaget.",
            owner_name="Lars Ek",
            due_on=TODAY,
        )
    assert (added.meeting, added.municipality.name) == (meeting, "Mora")
    assert written == rows(("actionpoint", "+", coordinator, reasons.ACTION_POINT_ADDED))
    with history_written() as written:
        services.action_point_add(
            actor=coordinator,
            meeting=meeting,
            municipality=municipality("Mora"),
            description="Boka lokal.",
            owner_name="Lars Ek",
            due_on=TODAY,
            reason="Glömdes i protokollet.",
        )
    assert written == rows(("actionpoint", "+", coordinator, "Glömdes i protokollet."))
    with pytest.raises(ValidationError) as error:
        services.action_point_add(
            actor=coordinator,
            meeting=meeting,
            municipality=municipality("Falun"),
            description="x",
            owner_name="y",
            due_on=TODAY,
        )
    assert set(error.value.message_dict) == {"municipality"}  # Falun did not take part


def test_marking_an_action_point_done_keeps_the_reason(coordinator):
    action_point = ActionPointFactory()
    with history_written() as written:
        services.action_point_set_status(
            actor=coordinator, action_point=action_point, status="done", reason=" Klart i maj. "
        )
    action_point.refresh_from_db()
    assert action_point.status == ActionPoint.Status.DONE
    assert written == rows(("actionpoint", "~", coordinator, "Klart i maj."))


def test_a_status_change_needs_a_change_and_a_reason(coordinator, mora_head):
    action_point = ActionPointFactory()
    with pytest.raises(ValidationError) as error:
        services.action_point_set_status(actor=coordinator, action_point=action_point, status="open", reason="")
    assert set(error.value.message_dict) == {"status", "reason"}
    with pytest.raises(ValidationError) as error:
        services.action_point_set_status(actor=coordinator, action_point=action_point, status="later", reason="x")
    assert set(error.value.message_dict) == {"status"}
    with pytest.raises(PermissionDenied):
        services.action_point_set_status(actor=mora_head, action_point=action_point, status="done", reason="x")
    action_point.refresh_from_db()
    assert action_point.status == ActionPoint.Status.OPEN
