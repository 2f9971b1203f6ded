"""Reads of agreements, always scoped to the user who asks, and of the plan periods."""

import json
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, DateField, OuterRef, Prefetch, Q, Subquery
from django.db.models.base import DEFERRED
from django.db.models.functions import Coalesce, JSONObject
from django.http import Http404
from django.utils import timezone

from ..follow_ups.models import FollowUp, FollowUpEntry
from ..prepared import prepared_rows
from .models import (
    Agreement,
    AgreementDocument,
    Attachment,
    CollaborationArea,
    Decision,
    DocumentProduction,
    PlanPeriod,
    PlanPriority,
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


@dataclass
class AgreementPage:
    """What the agreement page reads about one agreement: the agreement (with its
    areas as ``current_areas`` and its decisions, documents, signatures,
    attachments and comments as if prefetched), its follow-ups (each with its
    entries) and the production of its signed agreement (None but once both
    parties have signed)."""

    agreement: Agreement
    follow_ups: list
    signed_production: DocumentProduction | None


def agreement_page_for(user, pk) -> AgreementPage:
    """``agreement_for`` and the rest of what the agreement page shows; 404 if
    the user may not see the agreement. On PostgreSQL in two queries: the
    agreement, then every list of it as a JSON array column of one row, made
    into the same model instances a prefetch would make. At 100,000 agreements
    the ten queries this replaces (seven prefetches, the follow-ups and their
    entries, the production) took about 15 of the page's 38 ms of CPU, most of
    it in the ORM building them; the second query's SQL is made by the ORM once
    per process (``_page_lists``), so each request only runs it."""
    if connection.vendor != "postgresql":  # (the demo on SQLite: the same, query by query)
        agreement = agreement_for(user, pk)
        follow_ups = list(
            agreement.follow_ups.prefetch_related(
                Prefetch("entries", queryset=FollowUpEntry.objects.select_related("area"))
            ).order_by("year")
        )
        production = None
        if len(agreement.signatures.all()) == 2:
            production = (
                agreement.productions.filter(kind=AgreementDocument.Kind.SIGNED_AGREEMENT)
                .select_related("document")
                .first()
            )
        return AgreementPage(agreement, follow_ups, production)
    try:
        agreement = (
            Agreement.objects.for_user(user)
            .select_related("municipality", "plan_period", "created_by", "predecessor")
            .get(pk=pk)
        )
    except (Agreement.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc
    lists = _page_lists(agreement.pk)
    the_agreement = {"agreement": agreement}
    agreement.current_areas = [
        _prefetched(
            _instance(CollaborationArea, row, the_agreement),
            "priorities",
            [_instance(PlanPriority, priority) for priority in row["priorities"]],
        )
        for row in lists["areas"]
    ]
    for name, model in (
        ("decisions", Decision),
        ("documents", AgreementDocument),
        ("signatures", Signature),
        ("attachments", Attachment),
        ("comments", ReviewComment),
    ):
        _prefetched(agreement, name, [_instance(model, row, the_agreement) for row in lists[name]])
    follow_ups = [
        _prefetched(
            follow_up := _instance(FollowUp, row, the_agreement),
            "entries",
            [_instance(FollowUpEntry, entry, {"follow_up": follow_up}) for entry in row["entries"]],
        )
        for row in lists["follow_ups"]
    ]
    production = None
    if len(agreement.signatures.all()) == 2 and lists["production"]:
        production = _instance(DocumentProduction, lists["production"][0], the_agreement)
        if production.document is not None:
            AgreementDocument.agreement.field.set_cached_value(production.document, agreement)
    return AgreementPage(agreement, follow_ups, production)


def _page_lists(agreement_id):
    """{list name: [row objects]} of the agreement ``agreement_id`` (PostgreSQL):
    its current areas (each with its priorities), decisions, documents,
    signatures, attachments, comments, follow-ups (each with its entries) and
    its signed agreement's production (at most one), ordered as their models
    order them. The SQL does not depend on the agreement or the user: made by
    the ORM once per connection (``cases.prepared``), run with the agreement's id."""
    rows = prepared_rows("agreement_page_lists", _page_lists_query, agreement_id)
    if not rows:
        raise Http404
    return {
        name: [json.loads(item) if isinstance(item, str) else item for item in items]
        for name, items in zip(_PAGE_LIST_NAMES, rows[0], strict=True)
    }


_PAGE_LIST_NAMES = (
    "areas",
    "decisions",
    "documents",
    "signatures",
    "attachments",
    "comments",
    "follow_ups",
    "production",
)


def _page_lists_query(agreement_id):
    from django.contrib.postgres.expressions import ArraySubquery

    def rows(queryset, *order, limit=None, **related):
        queryset = queryset.order_by(*order)[:limit]
        return ArraySubquery(queryset.values(json=_json_of(queryset.model, **related)))

    mine = {"agreement": OuterRef("pk")}
    lists = {
        "areas": rows(
            CollaborationArea.objects.filter(removed_at__isnull=True, **mine),
            "position",
            "pk",
            priorities=rows(PlanPriority.objects.filter(areas=OuterRef("pk")), "plan_period", "position", "code"),
        ),
        "decisions": rows(
            Decision.objects.filter(**mine),
            "round",
            "recorded_at",
            minutes=Attachment,
            document=AgreementDocument,
            document__revision=None,
        ),
        "documents": rows(AgreementDocument.objects.filter(**mine), "created_at", "pk", revision=None),
        "signatures": rows(Signature.objects.filter(**mine), "recorded_at", signed_copy=Attachment, organisation=None),
        "attachments": rows(Attachment.objects.filter(**mine), "uploaded_at", uploaded_by=_PERSON),
        "comments": rows(
            ReviewComment.objects.filter(**mine), "round", "created_at", "pk", author=_PERSON, area=CollaborationArea
        ),
        "follow_ups": rows(
            FollowUp.objects.filter(**mine),
            "year",
            entries=rows(
                FollowUpEntry.objects.filter(follow_up=OuterRef("pk")),
                "area__position",
                "area_id",
                area=CollaborationArea,
            ),
        ),
        "production": rows(
            DocumentProduction.objects.filter(kind=AgreementDocument.Kind.SIGNED_AGREEMENT, **mine),
            "queued_at",
            "pk",
            limit=1,
            document=AgreementDocument,
            document__revision=None,
        ),
    }
    assert tuple(lists) == _PAGE_LIST_NAMES
    names = {f"page_{name}": expression for name, expression in lists.items()}
    return Agreement.objects.filter(pk=agreement_id).annotate(**names).values_list(*names)


# A person as the agreement page names them (the rest of the user is not read).
_PERSON = ("accounts.User", ("id", "full_name"))


def _model_and_fields(spec):
    """(model, its fields to read) for a ``_json_of`` relation: a model (every
    concrete field), or ("app.Model", (field names))."""
    from django.apps import apps

    if isinstance(spec, tuple):
        model = apps.get_model(spec[0])
        return model, [model._meta.get_field(name) for name in spec[1]]
    return spec, list(spec._meta.concrete_fields)


def _json_of(model, prefix="", fields=None, **related):
    """A JSON object of a row of ``model``: its fields, and for each of
    ``related`` (a foreign key: a model or ("app.Model", (fields)), or None for
    every field of the key's own model; a name with ``__``: a key of that
    relation; else an expression, such as an ArraySubquery) an object or value
    under that name."""
    fields = list(model._meta.concrete_fields) if fields is None else fields
    out = {field.attname: f"{prefix}{field.attname}" for field in fields}
    for name, spec in related.items():
        if "__" in name:
            continue
        if spec is None or isinstance(spec, (type, tuple)):
            target = model._meta.get_field(name).related_model if spec is None else spec
            target, target_fields = _model_and_fields(target)
            inner = {key.split("__", 1)[1]: value for key, value in related.items() if key.startswith(f"{name}__")}
            out[name] = _json_of(target, f"{prefix}{name}__", target_fields, **inner)
        else:
            out[name] = spec
    return JSONObject(**out)


def _instance(model, row, cached=None):
    """The instance of ``model`` a query would have built from ``row`` (an object
    of ``_json_of``), its related objects cached (as select_related would), and
    ``cached`` ({relation: instance}) set."""
    meta = model._meta
    values, related = {}, []
    for key, value in row.items():
        field = meta.get_field(key)
        if field.many_to_many or field.one_to_many:  # read by the caller
            continue
        if field.is_relation and field.attname != key:  # a related object
            related.append((field, value))
            continue
        if value is not None and isinstance(field, DateField):  # (and DateTimeField): JSON has them as text
            value = field.to_python(value)
        values[field.attname] = value
    names = [field.attname for field in meta.concrete_fields]
    instance = model.from_db("default", names, [values.get(name, DEFERRED) for name in names])
    for field, value in related:
        field.set_cached_value(instance, None if value.get("id") is None else _instance(field.related_model, value))
    for name, other in (cached or {}).items():
        meta.get_field(name).set_cached_value(instance, other)
    return instance


def _prefetched(instance, name, objects):
    """``instance`` with ``objects`` as the prefetched result of its relation ``name``."""
    queryset = getattr(instance, name).all()
    queryset._result_cache = objects
    queryset._prefetch_done = True
    instance.__dict__.setdefault("_prefetched_objects_cache", {})[name] = queryset
    return instance


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


def plan_periods_with_counts():
    """Every plan period, newest first, with ``agreement_count`` (its agreements,
    in any stage) and ``priority_count`` (its priorities in use). Each counted in
    a subquery of its own: counted over one join of agreements and priorities,
    every agreement of a period was paired with each of its priorities before
    COUNT(DISTINCT) (190 ms at 100,000 agreements, 34 ms this way)."""

    def per_period(queryset):
        counted = queryset.filter(plan_period=OuterRef("pk")).order_by().values("plan_period").annotate(n=Count("pk"))
        return Coalesce(Subquery(counted.values("n")), 0)

    return PlanPeriod.objects.annotate(
        agreement_count=per_period(Agreement.objects.all()),
        priority_count=per_period(PlanPriority.objects.filter(retired_at=None)),
    ).order_by("-starts_on")


def default_plan_period(today=None, periods=None) -> PlanPeriod | None:
    """The period that contains today; else the latest one open for agreements; else the latest."""
    today = today or timezone.localdate()
    periods = plan_periods() if periods is None else sorted(periods, key=lambda p: p.starts_on, reverse=True)
    return (
        next((p for p in periods if p.contains(today)), None)
        or next((p for p in periods if p.is_active), None)
        or (periods[0] if periods else None)
    )
