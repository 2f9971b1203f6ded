"""Reads of agreements, always scoped to the user who asks, and of the plan periods."""

from dataclasses import dataclass

from django.db.models import Prefetch, Q
from django.http import Http404
from django.utils import timezone

from .models import (
    Agreement,
    AgreementDocument,
    Attachment,
    CollaborationArea,
    Decision,
    PlanPeriod,
    ReviewComment,
    Signature,
)


def agreements_for(user, *, q="", plan_period=None, municipality=None, stage=""):
    queryset = Agreement.objects.for_user(user).select_related("municipality", "plan_period")
    if q:
        q = q.strip()
        queryset = queryset.filter(Q(case_number__icontains=q) | Q(title__icontains=q))
    if plan_period is not None:
        queryset = queryset.filter(plan_period=plan_period)
    if municipality is not None:
        queryset = queryset.filter(municipality=municipality)
    if stage:
        queryset = queryset.filter(stage=stage)
    return queryset


@dataclass(slots=True)
class AgreementRow:
    """One row of the agreement list, as plain values (written by
    ``workflows.templatetags.step_tables.agreement_rows``)."""

    pk: int
    case_number: str
    title: str
    stage: str
    municipality: str
    plan_period: str
    overdue: bool = False


def agreement_rows(queryset):
    """``queryset`` (of agreements) as the values the agreement list shows;
    sliced by the paginator, each row an ``AgreementRow``."""
    fields = ("pk", "case_number", "title", "stage", "municipality__name", "plan_period__name")
    return RowsOf(queryset, fields, lambda row: AgreementRow(*row))


class RowsOf:
    """A queryset for the Paginator whose page is read as ``values_list(*fields)``,
    each row made into a record by ``make``. It counts with the queryset itself:
    counting the values, Django kept their joins (at 100,000 agreements the
    count took 65 ms instead of 9)."""

    def __init__(self, queryset, fields, make):
        self.queryset, self.fields, self.make = queryset, fields, make

    def count(self):
        return self.queryset.count()

    def __len__(self):
        return self.count()

    def __getitem__(self, index):
        if not isinstance(index, slice):
            return self[index : index + 1][0]
        return [self.make(row) for row in self.queryset.values_list(*self.fields)[index]]


def agreement_for(user, pk) -> Agreement:
    """One agreement with everything its page shows; 404 if the user may not see it."""
    try:
        return (
            Agreement.objects.for_user(user)
            .select_related("municipality", "plan_period", "created_by", "predecessor")
            .prefetch_related(
                Prefetch(
                    "areas",
                    queryset=CollaborationArea.objects.filter(removed_at__isnull=True).prefetch_related("priorities"),
                    to_attr="current_areas",
                ),
                Prefetch("decisions", queryset=Decision.objects.select_related("minutes", "recorded_by", "document")),
                Prefetch("documents", queryset=AgreementDocument.objects.select_related("revision")),
                Prefetch(
                    "signatures",
                    queryset=Signature.objects.select_related("signed_copy", "recorded_by", "organisation"),
                ),
                Prefetch("attachments", queryset=Attachment.objects.select_related("uploaded_by")),
                Prefetch("comments", queryset=ReviewComment.objects.select_related("author", "area")),
            )
            .get(pk=pk)
        )
    except (Agreement.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


def attachment_for(user, pk) -> Attachment:
    try:
        return Attachment.objects.select_related("agreement").get(pk=pk, agreement__in=Agreement.objects.for_user(user))
    except (Attachment.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


def document_for(user, pk) -> AgreementDocument:
    """A document of an agreement the user may see; 404 otherwise."""
    try:
        return AgreementDocument.objects.select_related("agreement", "revision").get(
            pk=pk, agreement__in=Agreement.objects.for_user(user)
        )
    except (AgreementDocument.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


def follow_up_for(user, pk):
    """A follow-up of an agreement the user may see; 404 otherwise."""
    from cases.follow_ups.models import FollowUp

    try:
        return FollowUp.objects.select_related(
            "agreement__municipality", "agreement__plan_period", "submitted_by", "reviewed_by"
        ).get(pk=pk, agreement__in=Agreement.objects.for_user(user))
    except (FollowUp.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


def plan_periods():
    """Every plan period, newest first (one query; pass the list on to spare more)."""
    return list(PlanPeriod.objects.order_by("-starts_on"))


def default_plan_period(today=None, periods=None) -> PlanPeriod | None:
    """The period that contains today; else the latest one open for agreements; else the latest."""
    today = today or timezone.localdate()
    periods = plan_periods() if periods is None else sorted(periods, key=lambda p: p.starts_on, reverse=True)
    return (
        next((p for p in periods if p.contains(today)), None)
        or next((p for p in periods if p.is_active), None)
        or (periods[0] if periods else None)
    )
