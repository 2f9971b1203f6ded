"""The regional plan, run by the region's coordinators: plan periods and their
priorities (development areas).

Two coordinators may edit the same period or priority at once. Each edit form
carries the version it was read at (``version_of``: the id of the object's
latest history row); the service locks the row and refuses, with
``EditConflict``, an edit made from an older version, so that the second
writer is told and nothing the first wrote is overwritten. A priority is never
deleted: it is retired, kept with its links, and no longer offered.
"""

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from accounts import audit_reasons as reasons
from accounts.history import audit_context
from accounts.permissions import can_manage_plan

from ..agreements.models import Agreement, Decision, PlanPeriod, PlanPriority, Signature
from ..follow_ups.models import FollowUp


class EditConflict(Exception):
    """Someone else changed the object after the form was read. ``current`` is
    the object as it is now; the form keeps what the user wrote."""

    def __init__(self, current):
        self.current = current
        super().__init__(
            _(
                "Someone else changed “%(name)s” while you were editing it. Your changes are not saved: "
                "they are still in the form below, beside what is saved now. Check them and save again."
            )
            % {"name": current}
        )


def version_of(obj) -> int:
    """The version of an audited object: the id of its latest history row (0 when none)."""
    return obj.history.order_by("-history_id").values_list("history_id", flat=True).first() or 0


def _require(actor):
    if not can_manage_plan(actor):
        raise PermissionDenied(_("Only the region's coordinators administer the plan."))


def _check_version(obj, seen_version):
    if seen_version is not None and int(seen_version) != version_of(obj):
        raise EditConflict(obj)


# ---------------------------------------------------------------------------
# Plan periods
# ---------------------------------------------------------------------------


def dates_in_use(period: PlanPeriod):
    """(first, last) date that the period's agreements and follow-ups hold, or
    (None, None): decisions, signatures, entry into force, follow-up years."""
    agreements = Agreement.objects.filter(plan_period=period)
    firsts, lasts = [], []
    for queryset, field in (
        (Decision.objects.filter(agreement__in=agreements), "meeting_date"),
        (Signature.objects.filter(agreement__in=agreements), "signed_on"),
        (agreements.exclude(in_force_since=None), "in_force_since"),
    ):
        found = queryset.aggregate(first=Min(field), last=Max(field))
        firsts.append(found["first"])
        lasts.append(found["last"])
    years = FollowUp.objects.filter(agreement__in=agreements).aggregate(first=Min("year"), last=Max("year"))
    if years["first"] is not None:
        firsts.append(datetime.date(years["first"], 1, 1))
        lasts.append(datetime.date(years["last"], 12, 31))
    firsts = [d for d in firsts if d is not None]
    lasts = [d for d in lasts if d is not None]
    return (min(firsts) if firsts else None, max(lasts) if lasts else None)


def _validate_period(*, period, name, starts_on, ends_on):
    errors = {}
    if not name.strip():
        errors["name"] = _("Give the plan period a name, e.g. 2027–2030.")
    elif PlanPeriod.objects.filter(name=name.strip()).exclude(pk=period.pk if period else None).exists():
        errors["name"] = _("There is already a plan period named %(name)s.") % {"name": name.strip()}
    if starts_on and ends_on and ends_on <= starts_on:
        errors["ends_on"] = _("The period must end after it starts.")
    if period is not None and not errors:
        first, last = dates_in_use(period)
        if first is not None and starts_on > first:
            errors["starts_on"] = _(
                "The period is in use: an agreement or follow-up of it is dated %(date)s. "
                "It cannot start later than that."
            ) % {"date": first}
        if last is not None and ends_on < last:
            errors["ends_on"] = _(
                "The period is in use: an agreement or follow-up of it is dated %(date)s. "
                "It cannot end earlier than that."
            ) % {"date": last}
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def period_create(*, actor, name: str, starts_on, ends_on, is_active: bool = True) -> PlanPeriod:
    _require(actor)
    _validate_period(period=None, name=name, starts_on=starts_on, ends_on=ends_on)
    with audit_context(actor=actor, reason=reasons.PLAN_PERIOD_CREATED):
        return PlanPeriod.objects.create(name=name.strip(), starts_on=starts_on, ends_on=ends_on, is_active=is_active)


@transaction.atomic
def period_update(
    *, actor, period: PlanPeriod, seen_version: int | None, name: str, starts_on, ends_on, is_active: bool
) -> PlanPeriod:
    """Change a period. One in use cannot be shortened so that an agreement's
    or follow-up's date falls outside it."""
    _require(actor)
    period = PlanPeriod.objects.select_for_update().get(pk=period.pk)
    _check_version(period, seen_version)
    _validate_period(period=period, name=name, starts_on=starts_on, ends_on=ends_on)
    values = {"name": name.strip(), "starts_on": starts_on, "ends_on": ends_on, "is_active": is_active}
    if all(getattr(period, key) == value for key, value in values.items()):
        return period
    with audit_context(actor=actor, reason=reasons.PLAN_PERIOD_CHANGED):
        for key, value in values.items():
            setattr(period, key, value)
        period.save()
    return period


# ---------------------------------------------------------------------------
# Priorities
# ---------------------------------------------------------------------------


def _unique_code(period, title, exclude=None):
    base = slugify(title)[:40] or "prioritering"
    code, n = base, 1
    taken = set(PlanPriority.objects.filter(plan_period=period).exclude(pk=exclude).values_list("code", flat=True))
    while code in taken:
        n += 1
        code = f"{base}-{n}"
    return code


def _validate_priority(*, period, title, successor, priority=None):
    errors = {}
    if not title.strip():
        errors["title"] = _("Give the priority a title.")
    if successor is not None:
        if successor.plan_period.starts_on <= period.starts_on:
            errors["successor"] = _("The successor must be a priority of a later plan period.")
        elif successor.is_retired:
            errors["successor"] = _("The successor is retired; choose one that is offered.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def priority_create(
    *, actor, plan_period: PlanPeriod, title: str, description: str = "", position: int | None = None
) -> PlanPriority:
    _require(actor)
    _validate_priority(period=plan_period, title=title, successor=None)
    if position is None:
        position = (plan_period.priorities.aggregate(last=Max("position"))["last"] or 0) + 1
    with audit_context(actor=actor, reason=reasons.PRIORITY_CREATED):
        return PlanPriority.objects.create(
            plan_period=plan_period,
            code=_unique_code(plan_period, title),
            title=title.strip(),
            description=description.strip(),
            position=position,
        )


@transaction.atomic
def priority_update(
    *,
    actor,
    priority: PlanPriority,
    seen_version: int | None,
    title: str,
    description: str,
    position: int,
    successor: PlanPriority | None,
) -> PlanPriority:
    """Change a priority's text, order or successor. Its code stays: areas and
    earlier agreements keep pointing at the same priority."""
    _require(actor)
    priority = PlanPriority.objects.select_for_update().select_related("plan_period").get(pk=priority.pk)
    _check_version(priority, seen_version)
    _validate_priority(period=priority.plan_period, title=title, successor=successor, priority=priority)
    values = {
        "title": title.strip(),
        "description": description.strip(),
        "position": position,
        "successor_id": successor.pk if successor else None,
    }
    if all(getattr(priority, key) == value for key, value in values.items()):
        return priority
    with audit_context(actor=actor, reason=reasons.PRIORITY_CHANGED):
        for key, value in values.items():
            setattr(priority, key, value)
        priority.save()
    return priority


@transaction.atomic
def priority_retire(*, actor, priority: PlanPriority, seen_version: int | None, retire: bool = True) -> PlanPriority:
    """Retire a priority (kept, with its links, but no longer offered), or offer it again."""
    _require(actor)
    priority = PlanPriority.objects.select_for_update().get(pk=priority.pk)
    _check_version(priority, seen_version)
    if priority.is_retired == retire:
        return priority
    with audit_context(actor=actor, reason=reasons.PRIORITY_RETIRED if retire else reasons.PRIORITY_REINSTATED):
        priority.retired_at = timezone.now() if retire else None
        priority.save()
    return priority
