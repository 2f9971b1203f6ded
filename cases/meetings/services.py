"""Business steps of the forum Regional kulturdialog: recording a dialogue
meeting with its action points, adding an action point later, and marking one
done (or open again).

Same shape as cases.agreements.services: keyword-only, the acting user passed explicitly,
atomic, every write inside ``audit_context`` so its history row says who and
why. Everything is validated before anything is written; bad input raises
ValidationError keyed by field. In ``meeting_record`` an action point's errors
are keyed ``action_points-<n>-<field>``, n being its position in the list
given, so a form can show each message next to the field it concerns."""

import datetime
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import audit_reasons as reasons
from accounts.history import audit_context
from accounts.models import Organisation
from accounts.permissions import Action, can_do_anywhere, require

from .. import display
from ..agreements.models import LIVE_STAGES, Agreement, CollaborationArea
from ..files import validate_upload
from .models import ActionPoint, DialogueMeeting

PLACE_MAX = DialogueMeeting._meta.get_field("place").max_length
OWNER_MAX = ActionPoint._meta.get_field("owner_name").max_length


@dataclass
class ActionPointInput:
    """One action point as written in the meeting form."""

    municipality: Organisation
    description: str
    owner_name: str
    due_on: datetime.date
    area: CollaborationArea | None = None


def _require_meetings(actor, municipalities):
    """The actor records meetings for every municipality concerned."""
    if not can_do_anywhere(actor, Action.MANAGE_MEETINGS):
        raise PermissionDenied(_("You may not record dialogue meetings."))
    for municipality in municipalities:
        require(actor, municipality, Action.MANAGE_MEETINGS)


def _agreement_of(municipality, held_on):
    """The municipality's live agreement in the plan period that contains the
    meeting day, if there is one: an action point without an area still
    concerns that agreement."""
    return (
        Agreement.objects.live()
        .filter(municipality=municipality, plan_period__starts_on__lte=held_on, plan_period__ends_on__gte=held_on)
        .order_by("-created_at")
        .first()
    )


def _check_action_point(item: ActionPointInput, *, held_on, participant_ids) -> tuple[dict, Agreement | None]:
    """The problems of one action point (field -> message), and the agreement it concerns."""
    errors = {}
    municipality = item.municipality
    if municipality is None:
        errors["municipality"] = _("Choose the municipality the action point is for.")
    elif municipality.pk not in participant_ids:
        errors["municipality"] = _(
            "%(municipality)s did not take part in the meeting. An action point can only be given to a "
            "participating municipality: add it to the participants or choose another municipality."
        ) % {"municipality": municipality.name}
    if not (item.description or "").strip():
        errors["description"] = _("Say what is to be done.")
    owner = (item.owner_name or "").strip()
    if not owner:
        errors["owner_name"] = _("Name who is responsible for the action point.")
    elif len(owner) > OWNER_MAX:
        errors["owner_name"] = _("Write at most %(max)s characters.") % {"max": OWNER_MAX}
    if item.due_on is None:
        errors["due_on"] = _("Give a due date.")
    elif held_on is not None and item.due_on < held_on:
        errors["due_on"] = _("The due date cannot be before the meeting (%(date)s).") % {"date": display.day(held_on)}
    agreement = None
    area = item.area
    if area is not None and municipality is not None and "municipality" not in errors:
        area_agreement = area.agreement
        if area_agreement.municipality_id != municipality.pk:
            errors["area"] = _(
                "“%(area)s” is a collaboration area of %(other)s's agreement, not of %(municipality)s's. "
                "Choose one of %(municipality)s's areas, or none."
            ) % {"area": area.title, "other": area_agreement.municipality.name, "municipality": municipality.name}
        elif area.removed_at is not None or area_agreement.stage not in LIVE_STAGES:
            errors["area"] = _("“%(area)s” is no longer part of an agreement in use; choose another area, or none.") % {
                "area": area.title
            }
        else:
            agreement = area_agreement
    elif municipality is not None and held_on is not None and not errors:
        agreement = _agreement_of(municipality, held_on)
    return errors, agreement


def _create_action_point(*, meeting, item: ActionPointInput, agreement) -> ActionPoint:
    return ActionPoint.objects.create(
        meeting=meeting,
        municipality=item.municipality,
        agreement=agreement,
        area=item.area,
        description=item.description.strip(),
        owner_name=item.owner_name.strip(),
        due_on=item.due_on,
    )


def meeting_problems(
    *,
    held_on: datetime.date | None,
    place: str | None,
    participants,
    minutes_file=None,
    action_points: list[ActionPointInput] = (),
    partners=(),
) -> tuple[dict, dict | None, list]:
    """Every problem of a meeting as written (field -> message, an action
    point's keyed ``action_points-<n>-<field>``), all at once; the checked
    file's facts; and each action point with the agreement it concerns.
    Writes nothing. A form whose fields did not all parse passes None for
    those (``place=None``: not checked here) and still learns the rest."""
    participants = list(participants or ())
    errors = {}
    if held_on is None:
        errors["held_on"] = _("Give the date of the meeting.")
    elif held_on > timezone.localdate():
        errors["held_on"] = _("The date of the meeting cannot be in the future.")
    if place is not None:
        place = place.strip()
        if not place:
            errors["place"] = _("Say where the meeting was held.")
        elif len(place) > PLACE_MAX:
            errors["place"] = _("Write at most %(max)s characters.") % {"max": PLACE_MAX}
    if not participants:
        errors["participants"] = _("Choose at least one participating municipality.")
    elif any(not m.is_municipality for m in participants):
        errors["participants"] = _("Only the county's municipalities can take part.")
    partners = list(partners)
    if any(not p.is_partner or not p.is_active for p in partners):
        errors["partners"] = _("Choose among the partners in the dialogue.")
    facts = None
    if minutes_file is not None:
        try:
            facts = validate_upload(minutes_file)
        except ValidationError as error:
            errors["minutes_file"] = error.messages
    participant_ids = {m.pk for m in participants}
    checked = []
    for index, item in enumerate(action_points):
        item_errors, agreement = _check_action_point(item, held_on=held_on, participant_ids=participant_ids)
        for field, message in item_errors.items():
            errors[f"action_points-{index}-{field}"] = message
        checked.append((item, agreement))
    return errors, facts, checked


@transaction.atomic
def meeting_record(
    *,
    actor,
    held_on: datetime.date,
    place: str,
    participants,
    minutes: str = "",
    minutes_file=None,
    action_points: list[ActionPointInput] = (),
    partners=(),
) -> DialogueMeeting:
    """Record a Regional kulturdialog meeting with its participating
    municipalities and partners in the dialogue, its minutes (text and/or a
    file) and its action points."""
    participants = list(participants)
    partners = list(partners)
    _require_meetings(actor, participants)
    place = (place or "").strip()
    errors, facts, checked = meeting_problems(
        held_on=held_on,
        place=place,
        participants=participants,
        minutes_file=minutes_file,
        action_points=action_points,
        partners=partners,
    )
    if errors:
        raise ValidationError(errors)

    with audit_context(actor=actor, reason=reasons.MEETING_RECORDED):
        meeting = DialogueMeeting(held_on=held_on, place=place, minutes=(minutes or "").strip(), created_by=actor)
        if minutes_file is not None:
            meeting.minutes_file.save(minutes_file.name, minutes_file, save=False)
            meeting.minutes_file_name = minutes_file.name[:255]
            meeting.minutes_file_sha256 = facts["sha256"]
            meeting.minutes_file_size = facts["size"]
        meeting.save()
        meeting.participants.set(participants)  # one history row that records the participants
        if partners:
            meeting.partners.set(partners)
            meeting.save()  # one history row that records the partners
        for item, agreement in checked:
            _create_action_point(meeting=meeting, item=item, agreement=agreement)
    return meeting


@transaction.atomic
def action_point_add(
    *,
    actor,
    meeting: DialogueMeeting,
    municipality,
    description: str,
    owner_name: str,
    due_on: datetime.date,
    area: CollaborationArea | None = None,
    reason: str = "",
) -> ActionPoint:
    """Add an action point to a meeting already recorded, for one of its participants."""
    _require_meetings(actor, [municipality] if municipality is not None else [])
    item = ActionPointInput(
        municipality=municipality, description=description, owner_name=owner_name, due_on=due_on, area=area
    )
    participant_ids = set(meeting.participants.values_list("pk", flat=True))
    errors, agreement = _check_action_point(item, held_on=meeting.held_on, participant_ids=participant_ids)
    if errors:
        raise ValidationError(errors)
    with audit_context(actor=actor, reason=(reason or "").strip() or reasons.ACTION_POINT_ADDED):
        return _create_action_point(meeting=meeting, item=item, agreement=agreement)


@transaction.atomic
def action_point_set_status(*, actor, action_point: ActionPoint, status, reason: str) -> ActionPoint:
    """Mark an action point done, or open again; the reason is kept in its history."""
    _require_meetings(actor, [action_point.municipality])
    action_point = ActionPoint.objects.select_for_update().get(pk=action_point.pk)
    errors = {}
    try:
        status = ActionPoint.Status(status)
    except ValueError:
        errors["status"] = _("Choose open or done.")
    else:
        if status == action_point.status:
            errors["status"] = _("The action point is already marked “%(status)s”.") % {"status": status.label}
    if not (reason or "").strip():
        errors["reason"] = _("Say why the status changes.")
    if errors:
        raise ValidationError(errors)
    with audit_context(actor=actor, reason=reason.strip()):
        action_point.status = status
        action_point.save()
    return action_point
