"""Reads of the dialogue meetings and their action points, always scoped to
the user who asks: region-wide readers see every meeting, municipal users the
meetings their municipality took part in and its own action points."""

import datetime
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Prefetch, Q
from django.http import Http404
from django.utils import timezone

from accounts.models import Organisation
from accounts.permissions import scope_by_municipality, visible_municipality_ids

from ..agreements.models import LIVE_STAGES, CollaborationArea
from .models import ActionPoint, DialogueMeeting


def _participates(ids):
    """Q: the meeting had at least one of the municipalities ``ids`` among its participants."""
    through = DialogueMeeting.participants.through
    return Q(Exists(through.objects.filter(dialoguemeeting_id=OuterRef("pk"), organisation_id__in=ids)))


def visible_meetings(user):
    """The meetings the user may see, bare (no prefetch, no counts): every meeting
    for region-wide readers, those their municipality took part in for municipal users."""
    ids = visible_municipality_ids(user)
    if ids is None:
        return DialogueMeeting.objects.all()
    return DialogueMeeting.objects.filter(_participates(ids))


def meetings_for(user):
    """The meetings the user may see (``visible_meetings``). Each carries
    ``open_points``: the open action points the user may see."""
    ids = visible_municipality_ids(user)
    queryset = visible_meetings(user).prefetch_related(
        Prefetch("participants", queryset=Organisation.objects.order_by("name"))
    )
    open_points = Q(action_points__status=ActionPoint.Status.OPEN)
    if ids is not None:
        open_points &= Q(action_points__municipality__in=ids)
    return queryset.annotate(open_points=Count("action_points", filter=open_points)).order_by("-held_on", "-pk")


def meeting_for(user, pk) -> DialogueMeeting:
    """One meeting; 404 when the user may not see it (their municipality did not take part)."""
    try:
        return meetings_for(user).select_related("created_by").get(pk=pk)
    except (DialogueMeeting.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


def _action_points(user):
    return (
        visible_action_points(user)
        .select_related("municipality", "area", "agreement", "meeting")
        .order_by("due_on", "pk")
    )


def visible_action_points(user):
    """Every action point the user may see (municipal users: their municipality's)."""
    return scope_by_municipality(ActionPoint.objects.all(), user)


def action_points_of(user, meeting):
    """The meeting's action points that the user may see: municipal users only their own municipality's."""
    return _action_points(user).filter(meeting=meeting)


def action_point_for(user, pk) -> ActionPoint:
    """One action point the user may see; 404 otherwise."""
    try:
        return _action_points(user).get(pk=pk)
    except (ActionPoint.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


@dataclass
class AgreementDialogue:
    """The dialogue meetings and action points that concern one agreement."""

    meetings: list
    action_points: list
    today: datetime.date


def dialogue_for_agreement(user, agreement) -> AgreementDialogue:
    """Meetings the agreement's municipality took part in during its plan period,
    or that gave an action point on the agreement; and those action points."""
    period = agreement.plan_period
    concerns = (
        Q(held_on__gte=period.starts_on, held_on__lte=period.ends_on) & _participates([agreement.municipality_id])
    ) | Q(Exists(ActionPoint.objects.filter(meeting_id=OuterRef("pk"), agreement_id=agreement.pk)))
    # Only when, where and a link: not the participants and open points of ``meetings_for``.
    meetings = visible_meetings(user).filter(concerns).order_by("-held_on", "-pk")
    action_points = _action_points(user).filter(agreement=agreement)
    return AgreementDialogue(meetings=list(meetings), action_points=list(action_points), today=timezone.localdate())


def live_areas(municipalities=None):
    """Areas of agreements in use, for the area select (optionally of some municipalities only)."""
    queryset = CollaborationArea.objects.filter(
        removed_at__isnull=True, agreement__stage__in=LIVE_STAGES
    ).select_related("agreement__municipality", "agreement__plan_period")
    if municipalities is not None:
        queryset = queryset.filter(agreement__municipality__in=municipalities)
    return list(queryset.order_by("agreement_id", "position", "pk"))
