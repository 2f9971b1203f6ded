"""The demo data of `make run` includes a dialogue meeting with action points,
one of them on a collaboration area of Ludvika's agreement; seeding again adds
nothing."""

import pytest
from django.core.management import call_command

from cases.models import ActionPoint, DialogueMeeting

pytestmark = pytest.mark.django_db


def test_seed_demo_records_a_dialogue_meeting_once(capsys):
    call_command("seed_demo")
    meeting = DialogueMeeting.objects.get()
    assert sorted(m.name for m in meeting.participants.all()) == ["Falun", "Ludvika", "Mora"]
    assert meeting.created_by.email == "samordnare@regiondalarna.se"
    assert meeting.minutes
    points = list(meeting.action_points.select_related("municipality", "area__agreement"))
    assert sorted(p.municipality.name for p in points) == ["Falun", "Ludvika", "Mora"]
    ludvika = next(p for p in points if p.municipality.name == "Ludvika")
    assert ludvika.area is not None and ludvika.area.agreement.municipality.name == "Ludvika"
    assert ludvika.agreement == ludvika.area.agreement
    assert all(p.due_on >= meeting.held_on for p in points)
    assert meeting.history.exists() and ActionPoint.history.count() == 3

    counts = (DialogueMeeting.objects.count(), ActionPoint.objects.count(), DialogueMeeting.history.count())
    call_command("seed_demo")
    assert (DialogueMeeting.objects.count(), ActionPoint.objects.count(), DialogueMeeting.history.count()) == counts
