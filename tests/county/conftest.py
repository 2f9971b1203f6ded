"""Shared data for the tests of the county pages (dialogue meetings, the
county overview, coverage): agreements in several stages, a minutes PDF, and
helpers to post the meeting form as a coordinator would."""

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from django.utils.translation import gettext

from accounts.models import Role
from cases.models import Stage
from tests.factories import agreement_in_stage, municipality, user_with_role

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"


def sv(msgid, **params):
    """What the Swedish UI shows for ``msgid`` (the English msgid while it is not yet translated)."""
    with translation.override("sv"):
        text = gettext(msgid)
    return text % params if params else text


def minutes_pdf(name="protokoll-kulturdialog.pdf"):
    return SimpleUploadedFile(name, PDF, content_type="application/pdf")


@pytest.fixture
def ludvika_head(db):
    return user_with_role(Role.CULTURAL_HEAD, "Ludvika", full_name="Maria Ludvika")


@pytest.fixture
def agreements(coordinator, falun_head, mora_head, ludvika_head):
    """Falun in review, Mora in political approval, Ludvika in force (with two areas)."""
    return {
        "Falun": agreement_in_stage(Stage.REVIEW, "Falun", coordinator=coordinator, head=falun_head),
        "Mora": agreement_in_stage(Stage.APPROVAL, "Mora", coordinator=coordinator, head=mora_head),
        "Ludvika": agreement_in_stage(Stage.IN_FORCE, "Ludvika", coordinator=coordinator, head=ludvika_head),
    }


def meeting_post(*, held_on, place="Dalarnas museum, Falun", participants=(), minutes="", points=(), **extra):
    """POST data for the meeting form: ``participants`` are names, ``points`` dicts with
    municipality (name), area (object or None), description, owner_name, due_on."""
    rows = list(points) + [{}] * max(0, 3 - len(points))
    data = {
        "held_on": held_on.isoformat() if isinstance(held_on, datetime.date) else held_on,
        "place": place,
        "participants": [str(municipality(name).pk) for name in participants],
        "minutes": minutes,
        "action_points-TOTAL_FORMS": str(len(rows)),
        "action_points-INITIAL_FORMS": "0",
        "action_points-MIN_NUM_FORMS": "0",
        "action_points-MAX_NUM_FORMS": "30",
    }
    for i, row in enumerate(rows):
        data[f"action_points-{i}-municipality"] = str(municipality(row["municipality"]).pk) if row else ""
        data[f"action_points-{i}-area"] = str(row["area"].pk) if row.get("area") else ""
        data[f"action_points-{i}-description"] = row.get("description", "")
        data[f"action_points-{i}-owner_name"] = row.get("owner_name", "")
        due = row.get("due_on", "")
        data[f"action_points-{i}-due_on"] = due.isoformat() if isinstance(due, datetime.date) else due
    data.update(extra)
    return data
