"""Reads of agreements, always scoped to the user who asks."""

from django.db.models import Prefetch, Q
from django.http import Http404

from .models import Agreement, Attachment, CollaborationArea, Decision, ReviewComment, Signature


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
                Prefetch("decisions", queryset=Decision.objects.select_related("minutes", "recorded_by")),
                Prefetch("signatures", queryset=Signature.objects.select_related("signed_copy", "recorded_by")),
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
