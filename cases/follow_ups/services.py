"""Business steps of the yearly follow-up: the process opens each year's
follow-up, the municipality writes and hands it in, the coordinator accepts it
or returns it for completion. Same shape as cases.agreements.services."""

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import audit_reasons as reasons
from accounts.history import audit_context
from accounts.permissions import Action, require
from background.models import Webhook
from background.webhooks import queue_event

from ..agreements.models import Agreement, Attachment, Stage
from ..agreements.services import attachment_add, lock_agreement, require_stage
from ..exceptions import StepNotAllowed
from .models import FollowUp, FollowUpEntry


def follow_up_date(year: int) -> datetime.date:
    """The day a year's follow-up opens (settings.FOLLOW_UP_OPENS, "MM-DD")."""
    month, day = (int(part) for part in settings.FOLLOW_UP_OPENS.split("-"))
    return datetime.date(year, month, day)


def next_follow_up_year(agreement) -> int | None:
    """The next year of the plan period whose follow-up is still to come, or None.
    A year counts when its follow-up date falls on or after the day the agreement
    came into force and within the plan period."""
    period = agreement.plan_period
    done = set(agreement.follow_ups.values_list("year", flat=True))
    start = agreement.in_force_since or timezone.localdate()
    for year in range(period.starts_on.year, period.ends_on.year + 1):
        day = follow_up_date(year)
        if year not in done and start <= day and period.contains(day):
            return year
    return None


@transaction.atomic
def follow_up_open(*, agreement: Agreement, year: int) -> FollowUp:
    """Open ``year``'s follow-up, with one entry per collaboration area. Run by
    the process (the timer of the year's follow-up date), so it has no actor."""
    agreement = lock_agreement(agreement)
    require_stage(agreement, Stage.IN_FORCE)
    period = agreement.plan_period
    if not period.starts_on.year <= year <= period.ends_on.year:
        raise ValidationError(
            {"year": _("%(year)s is outside the plan period %(period)s.") % {"year": year, "period": period}}
        )
    if agreement.follow_ups.filter(year=year).exists():
        raise StepNotAllowed(_("The follow-up for %(year)s is already open.") % {"year": year})
    with audit_context(reason=reasons.follow_up_opened(year=year)):
        follow_up = FollowUp.objects.create(agreement=agreement, year=year)
        for area in agreement.active_areas():
            FollowUpEntry.objects.create(follow_up=follow_up, area=area)
    return follow_up


@dataclass
class EntryInput:
    area_id: int
    progress: str
    narrative: str


@transaction.atomic
def follow_up_report(*, actor, follow_up: FollowUp, entries: list[EntryInput], submit: bool, files=()) -> FollowUp:
    """The municipality writes (and, with ``submit``, hands in) its follow-up."""
    agreement = follow_up.agreement
    require(actor, agreement.municipality, Action.REPORT_FOLLOW_UP)
    follow_up = FollowUp.objects.select_for_update().get(pk=follow_up.pk)
    if follow_up.status not in (FollowUp.Status.OPEN, FollowUp.Status.RETURNED):
        raise StepNotAllowed(_("The follow-up has already been handed in."))
    current = {entry.area_id: entry for entry in follow_up.entries.all()}
    if {e.area_id for e in entries} - set(current):
        raise ValidationError(_("A collaboration area of the form does not belong to this follow-up."))
    if submit:
        missing = [current[e.area_id].area.title for e in entries if not e.narrative.strip()]
        if missing:
            raise ValidationError(
                _("Write how it is going for every area before handing in: %(areas)s.") % {"areas": ", ".join(missing)}
            )
    reason = (reasons.follow_up_handed_in if submit else reasons.follow_up_saved)(year=follow_up.year)
    with audit_context(actor=actor, reason=reason):
        for item in entries:
            entry = current[item.area_id]
            progress = FollowUpEntry.Progress(item.progress)
            if (entry.progress, entry.narrative) != (progress, item.narrative.strip()):
                entry.progress, entry.narrative = progress, item.narrative.strip()
                entry.save()
        for uploaded in files:
            attachment = attachment_add(
                actor=actor, agreement=agreement, uploaded=uploaded, kind=Attachment.Kind.FOLLOW_UP
            )
            attachment.follow_up = follow_up
            attachment.save()
        if submit:
            follow_up.status = FollowUp.Status.SUBMITTED
            follow_up.submitted_by = actor
            follow_up.submitted_at = timezone.now()
            follow_up.save()
            queue_event(
                Webhook.Event.FOLLOW_UP_SUBMITTED, agreement, {"follow_up": follow_up.pk, "year": follow_up.year}
            )
    return follow_up


@transaction.atomic
def follow_up_review(*, actor, follow_up: FollowUp, accept: bool, comment: str = "") -> FollowUp:
    """The coordinator accepts the follow-up, or returns it for completion with a comment."""
    agreement = follow_up.agreement
    require(actor, agreement.municipality, Action.REVIEW_FOLLOW_UP)
    follow_up = FollowUp.objects.select_for_update().get(pk=follow_up.pk)
    if follow_up.status != FollowUp.Status.SUBMITTED:
        raise StepNotAllowed(_("The follow-up is not waiting for review."))
    if not accept and not comment.strip():
        raise ValidationError({"comment": _("Say what is missing, so the municipality can complete it.")})
    reason = (reasons.follow_up_accepted if accept else reasons.follow_up_returned)(year=follow_up.year)
    with audit_context(actor=actor, reason=reason):
        follow_up.status = FollowUp.Status.ACCEPTED if accept else FollowUp.Status.RETURNED
        follow_up.reviewed_by = actor
        follow_up.reviewed_at = timezone.now()
        follow_up.review_comment = comment.strip()
        follow_up.save()
    return follow_up
