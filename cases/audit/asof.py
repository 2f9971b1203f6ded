"""An agreement exactly as it stood at a chosen moment, reconstructed from its
history: the agreement's own row with ``agreement.history.as_of(when)``, and
for each kind of object hanging off it the latest history row of each object
written at or before that moment (an object created later is absent, one
removed earlier is shown as removed). Reads only; one query per table.

Latest means the greatest (history_date, history_id): simple-history's
class-level ``as_of()`` compares dates only and would return two rows of an
object saved twice within the same microsecond."""

import datetime
from dataclasses import dataclass, field

from django.db.models import Q
from viewflow.workflow.models import Task

from cases.models import Agreement, CollaborationArea, Decision, ReviewComment, Signature

from .log import m2m_history


class NotYetOpened(Exception):
    """The agreement did not exist at that moment."""

    def __init__(self, opened_at):
        super().__init__(f"The agreement was opened at {opened_at}")
        self.opened_at = opened_at


@dataclass
class AreaAsOf:
    area: CollaborationArea
    priorities: list = field(default_factory=list)  # titles of the linked plan priorities


@dataclass
class AgreementAsOf:
    when: datetime.datetime
    agreement: Agreement  # an unsaved instance with the values it had
    changed_at: datetime.datetime  # when the agreement's own row last changed before ``when``
    changed_by: object  # the user who made that change, or None
    change_reason: str
    areas: list
    removed_areas: list
    decisions: list
    signatures: list
    comments: list
    open_steps: list  # viewflow tasks open at that moment


def _latest_rows(model, agreement_id, when):
    """The latest history row of each object of ``model`` on the agreement at ``when``."""
    latest = {}
    rows = model.history.filter(agreement_id=agreement_id, history_date__lte=when).order_by(
        "id", "history_date", "history_id"
    )
    for row in rows:
        latest[row.id] = row
    return [row for row in latest.values() if row.history_type != "-"]


def first_recorded(agreement):
    """When the agreement's history begins (its opening)."""
    first = agreement.history.order_by("history_date", "history_id").values_list("history_date", flat=True).first()
    return first or agreement.created_at


def agreement_as_of(agreement: Agreement, when: datetime.datetime) -> AgreementAsOf:
    """``agreement`` as it stood at ``when``; NotYetOpened if it did not exist yet."""
    past = agreement.history.filter(history_date__lte=when).order_by("-history_date", "-history_id").first()
    if past is None or past.history_type == "-":
        raise NotYetOpened(first_recorded(agreement))

    area_rows = _latest_rows(CollaborationArea, agreement.pk, when)
    titles = {}
    for _m2m_field, m2m_model, target in m2m_history(CollaborationArea.history.model):
        links = (
            m2m_model._default_manager.filter(history_id__in=[row.history_id for row in area_rows])
            .select_related(target.name)
            .order_by(target.attname)
        )
        for link in links:
            titles.setdefault(link.history_id, []).append(str(getattr(link, target.name)))
    areas, removed = [], []
    for row in sorted(area_rows, key=lambda r: (r.position, r.id)):
        item = AreaAsOf(area=row.instance, priorities=sorted(titles.get(row.history_id, [])))
        (removed if row.removed_at else areas).append(item)

    open_steps = list(
        Task.objects.filter(
            process__agreementprocess__agreement=agreement.pk, flow_task_type="HUMAN", created__lte=when
        )
        .filter(Q(finished__isnull=True) | Q(finished__gt=when))
        .select_related("owner")
        .order_by("created", "pk")
    )
    return AgreementAsOf(
        when=when,
        agreement=past.instance,
        changed_at=past.history_date,
        changed_by=past.history_user,
        change_reason=past.history_change_reason or "",
        areas=areas,
        removed_areas=removed,
        decisions=[
            r.instance for r in sorted(_latest_rows(Decision, agreement.pk, when), key=lambda r: (r.round, r.id))
        ],
        signatures=[r.instance for r in sorted(_latest_rows(Signature, agreement.pk, when), key=lambda r: r.id)],
        comments=[
            r.instance for r in sorted(_latest_rows(ReviewComment, agreement.pk, when), key=lambda r: (r.round, r.id))
        ],
        open_steps=open_steps,
    )
