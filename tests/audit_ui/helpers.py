"""Helpers for reading the audit pages as their users do."""

import datetime
import zoneinfo

from django.urls import reverse
from django.utils import translation

from tests.workflows.helpers import login

STOCKHOLM = zoneinfo.ZoneInfo("Europe/Stockholm")


def at(hour, minute=0, *, day=2, month=3, year=2026):
    """A moment on a working day in the plan period 2023–2026, Swedish time."""
    return datetime.datetime(year, month, day, hour, minute, tzinfo=STOCKHOLM)


def act_as(client, user):
    client.logout()
    return login(client, user)


def sv(text):
    """``text`` (a lazy translation, or a callable building one) as the Swedish UI shows it."""
    with translation.override("sv"):
        return str(text() if callable(text) else text)


def timeline_url(agreement, **params):
    url = reverse("workflows:agreement_timeline", args=[agreement.pk])
    if params:
        url += "?" + "&".join(f"{key}={value}" for key, value in params.items())
    return url


def timeline_events(client, agreement, **params):
    """Every event the timeline page shows (in all its groups of round and
    stage), as the page's own objects; the groups hold each event once."""
    response = client.get(timeline_url(agreement, **params))
    assert response.status_code == 200, response.content.decode()[:2000]
    events = response.context["events"]
    in_groups = [e for phase in response.context["phases"] for e in phase.events]
    assert sorted(map(id, in_groups)) == sorted(map(id, events))
    return events
