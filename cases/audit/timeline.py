"""The timeline of one agreement: every change to the agreement and to
everything hanging off it (collaboration areas, revisions, comments,
decisions, signatures, attachments, follow-ups and their entries, action
points, the due dates of its steps), and every step of its process, in time
order, each with who, when, why and in which step. Reads only.

The history rows come in ONE query: a ``UNION ALL`` over the history tables
whose rows belong to an agreement (``log.agreement_sources()``), each row as
a JSON object of its columns. Consecutive rows of the same object are compared
field by field (old -> new). Names come from a bounded number of further
queries: the linked plan priorities (one per many-to-many history table), the
process's tasks, the people, and the rare linked object that is not part of
the agreement (one query per model). The number of queries does not depend on
the number of rows.

Values are shown as people read them: field names are the models' verbose
names, choices their labels, users their names, linked objects their titles.
"""

import datetime
import functools
import json
from dataclasses import dataclass, field

from django.apps import apps
from django.db import connections, models
from django.db.models import F, TextField, Value
from django.db.models.functions import JSONObject
from django.http import Http404
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import get_language, gettext_lazy, gettext_noop
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task

from accounts.models import Organisation, User
from background.models import OutgoingEmail
from cases import display as display_formats
from cases.agreements.compare import mark_words
from cases.models import Agreement, Stage

from .. import prepared
from . import log

STEP = "step"  # the kind of the events read from viewflow's tasks
TASK = Task._meta.label_lower
EMAIL = OutgoingEmail._meta.label_lower  # the e-mails about the agreement's steps (the outbox)

# The kinds of event an auditor filters by, and the tables behind each.
GROUPS = (
    ("text", gettext_lazy("Agreement text"), ("cases.agreement", "cases.collaborationarea", "cases.agreementrevision")),
    ("decisions", gettext_lazy("Decisions"), ("cases.decision",)),
    ("signatures", gettext_lazy("Signatures"), ("cases.signature",)),
    ("comments", gettext_lazy("Review comments"), ("cases.reviewcomment",)),
    ("attachments", gettext_lazy("Attachments"), ("cases.attachment",)),
    ("follow_ups", gettext_lazy("Follow-ups"), ("cases.followup", "cases.followupentry", "cases.actionpoint")),
    ("steps", gettext_lazy("Steps"), ("workflows.taskdeadline", STEP)),
    ("emails", gettext_lazy("E-mail"), (EMAIL,)),
)
OTHER = ("other", gettext_lazy("Other"))
GROUP_OF = {key: group for group, _label, keys in GROUPS for key in keys}
GROUP_LABELS = {group: label for group, label, _keys in GROUPS}

ACTIONS = {
    "+": gettext_lazy("Created"),
    "~": gettext_lazy("Changed"),
    "-": gettext_lazy("Deleted"),
    "step_started": gettext_lazy("Step started"),
    "step_done": gettext_lazy("Step completed"),
    "step_cancelled": gettext_lazy("Step cancelled"),
    "email_sent": gettext_lazy("E-mail sent"),
    "email_waiting": gettext_lazy("E-mail waiting to be sent"),
    "email_held": gettext_lazy("E-mail held for the daily digest"),
    "email_failed": gettext_lazy("E-mail failed"),
}

LONG_TEXT = 80  # texts longer than this get their changed words marked

# Fields whose models give them no verbose name are named by their field name,
# translated when the catalogue has it; these are the ones no model names.
UNNAMED_FIELDS = (gettext_noop("uploaded by"),)


@dataclass
class Change:
    label: str
    old: str
    new: str
    marked: str | None = None  # HTML with <del>/<ins>, for long texts


@dataclass
class Event:
    when: datetime.datetime
    kind: str  # source key, or STEP
    group: str
    action: str  # a key of ACTIONS
    subject: str  # e.g. "Collaboration area: Kulturskolan i samverkan"
    actor_id: int | None = None
    actor: str = ""
    reason: str = ""
    step: str = ""  # the workflow step the change was made in
    task_id: int | None = None
    ip: str | None = None
    history_id: int | None = None
    changes: list = field(default_factory=list)
    order: tuple = ()

    @property
    def action_label(self):
        return ACTIONS[self.action]

    @property
    def group_label(self):
        return GROUP_LABELS.get(self.group, OTHER[1])


@dataclass
class Phase:
    """The events of one round and stage of the agreement (e.g. round 2, municipal review)."""

    round: int
    stage: str
    events: list = field(default_factory=list)

    @property
    def key(self):
        return f"{self.round}-{self.stage}"

    @property
    def stage_label(self):
        return Stage(self.stage).label if self.stage in Stage.values else self.stage

    @property
    def label(self):
        return _("Round %(round)s: %(stage)s") % {"round": self.round, "stage": self.stage_label}

    @property
    def first(self):
        return self.events[0].when

    @property
    def last(self):
        return self.events[-1].when


@dataclass
class Timeline:
    agreement: Agreement
    events: list
    actors: list  # [(user id, name)] of everyone on the timeline, by name
    # [(time, round, stage)] from the agreement's history rows, oldest first
    stages: list = field(default_factory=list)

    def filtered(self, *, group=None, actor_id=None):
        return [
            e for e in self.events if (not group or e.group == group) and (actor_id is None or e.actor_id == actor_id)
        ]

    def phase_of(self, event, task_started):
        """(round, stage) an event belongs to: that of its step when it was made in
        one (the step's start decides: its end and what it changed belong with it),
        else the one in effect at its time."""
        when = task_started.get(event.task_id, event.when) if event.task_id else event.when
        current = self.stages[0][1:] if self.stages else (self.agreement.review_round, self.agreement.stage)
        for at, round_, stage in self.stages:
            if at > when:
                break
            current = (round_, stage)
        return current

    def phases(self, events=None):
        """``events`` (default: all, in time order) grouped by round and stage, the
        groups in the order they began. Every event is in exactly one group; an
        event that comes late (an e-mail, a due date) joins its own group."""
        task_started = {e.task_id: e.when for e in self.events if e.action == "step_started"}
        groups = {}
        for event in self.events if events is None else events:
            round_, stage = self.phase_of(event, task_started)
            groups.setdefault((round_, stage), Phase(round=round_, stage=stage)).events.append(event)
        return list(groups.values())


def visible_agreement(user, pk) -> Agreement:
    """The agreement, if ``user`` may see it (the same rule as every agreement
    page: Agreement.objects.for_user); 404 otherwise. One query."""
    agreement = (
        Agreement.objects.for_user(user)
        .select_related("municipality", "plan_period", "predecessor", "created_by")
        .filter(pk=pk)
        .first()
    )
    if agreement is None:
        raise Http404
    return agreement


# ---------------------------------------------------------------------------
# Reading the rows
# ---------------------------------------------------------------------------


def _agreement_branch(src, agreement_id):
    model = src.model
    columns = {f.attname: F(f.attname) for f in model._meta.concrete_fields if f.attname != "history_hash"}
    return (
        model._default_manager.order_by()
        .filter(**{src.agreement_path: agreement_id})
        .annotate(
            log_kind=Value(src.key, output_field=TextField()),
            log_row=JSONObject(**columns),
        )
        .values("log_kind", "log_row")
    )


@functools.cache
def _history_query(using):
    """The UNION of every agreement source's rows, compiled once per process and
    database (#20: compiling a dozen querysets was most of the page's time):
    (SQL, its parameters, the positions of the agreement's id among them)."""
    connection = connections[using]
    quote = connection.ops.quote_name
    parts, params = [], []
    for index, src in enumerate(log.agreement_sources()):
        sql, branch_params = _agreement_branch(src, prepared.STAND_IN).query.get_compiler(using=using).as_sql()
        parts.append(f"SELECT {quote('log_kind')}, {quote('log_row')} FROM ({sql}) {quote(f't{index}')}")  # noqa: S608
        params.extend(branch_params)
    slots = prepared.stand_in_slots(params)
    if len(slots) != len(parts):  # every branch filters on the agreement once
        raise AssertionError(f"the timeline's UNION has {len(slots)} agreement parameters for {len(parts)} branches")
    sql, params = " UNION ALL ".join(parts), tuple(params)
    if connection.vendor == "postgresql":
        # The constants (each table's key, the JSON objects' keys: some 250) written
        # into the SQL, quoted by psycopg, once: the driver then reads a query with
        # one parameter per table on each request, not one per column.
        stand_in = str(prepared.STAND_IN)
        inlined = connection.ops.compose_sql(sql, params).replace("%", "%%")
        if inlined.count(stand_in) == len(slots):
            return inlined.replace(stand_in, "%s"), tuple(params[slot] for slot in slots), tuple(range(len(slots)))
    return sql, params, slots


def _history_rows(agreement_id, using="default"):
    """{source key: [row dict, ...]} of every history row of the agreement,
    each list in (history_date, history_id) order. One query."""
    sql, template, slots = _history_query(using)
    rows = {}
    if not sql:
        return rows
    with connections[using].cursor() as cursor:
        cursor.execute(sql, prepared.with_id(template, slots, agreement_id))
        for kind, raw in cursor.fetchall():
            rows.setdefault(kind, []).append(_hydrate(_converters(kind), raw))
    for kind_rows in rows.values():
        kind_rows.sort(key=lambda r: (r["history_date"], r["history_id"]))
    return rows


def _json_value(value):
    return json.loads(value) if isinstance(value, str) else value


def _aware_datetime(f):
    def convert(value):
        value = f.to_python(value)
        return timezone.make_aware(value, datetime.UTC) if timezone.is_naive(value) else value

    return convert


@functools.cache
def _converters(kind):
    """[(attname, from JSON to Python)] of the columns of a source's history table."""
    found = []
    for f in log.source(kind).model._meta.concrete_fields:
        if isinstance(f, models.JSONField):
            found.append((f.attname, _json_value))
        elif isinstance(f, models.DateTimeField):
            found.append((f.attname, _aware_datetime(f)))
        else:
            found.append((f.attname, f.to_python))
    return tuple(found)


def _hydrate(converters, raw):
    """A JSON object of a history row as {attname: Python value}."""
    data = json.loads(raw) if isinstance(raw, str) else raw
    values = {}
    for attname, convert in converters:
        if attname not in data:
            continue
        value = data[attname]
        values[attname] = None if value is None else convert(value)
    return values


# The column that names a linked object of a many-to-many history table (its
# model's __str__), read with the links; other models are read as instances.
M2M_NAME_COLUMNS = {"cases.planpriority": "title"}


def _m2m_rows(agreement_id, using="default"):
    """{(source key, m2m field name): {history_id: [(linked id, linked name), ...]}}:
    the many-to-many links each history row recorded. One query per
    many-to-many history table."""
    found = {}
    for src in log.agreement_sources():
        for m2m_field, m2m_model, target in log.m2m_history(src.model):
            links = {}
            name_column = M2M_NAME_COLUMNS.get(target.related_model._meta.label_lower)
            if name_column:

                def make(agreement, src=src, m2m_model=m2m_model, target=target, name_column=name_column):
                    return (
                        m2m_model._default_manager.filter(**{f"history__{src.agreement_path}": agreement})
                        .order_by(target.attname)
                        .values_list("history_id", target.attname, f"{target.name}__{name_column}")
                    )

                key = ("m2m", src.key, m2m_field.name)
                for history_id, pk, name in prepared.prepared_rows(key, make, agreement_id, using=using):
                    links.setdefault(history_id, []).append((pk, str(name)))
            else:
                queryset = (
                    m2m_model._default_manager.using(using)
                    .filter(**{f"history__{src.agreement_path}": agreement_id})
                    .select_related(target.name)
                    .order_by(target.attname)
                )
                for link in queryset:
                    linked = getattr(link, target.name)
                    links.setdefault(link.history_id, []).append((getattr(link, target.attname), str(linked)))
            found[(src.key, m2m_field.name)] = links
    return found


# ---------------------------------------------------------------------------
# Names of linked objects
# ---------------------------------------------------------------------------


def _subject_of(key, row, names):
    """How an object is named on the timeline, from its history row."""
    get = row.get
    if key == "cases.agreement":
        return get("case_number") or ""
    if key in ("cases.collaborationarea",):
        return get("title") or ""
    if key == "cases.agreementrevision":
        return _("Round %(round)s") % {"round": get("round")}
    if key == "cases.reviewcomment":
        text = (get("text") or "").strip()
        return _("Round %(round)s") % {"round": get("round")} + (f": {text[:60]}…" if len(text) > 60 else f": {text}")
    if key == "cases.decision":
        party = _choice_label(apps.get_model("cases", "Decision")._meta.get_field("party"), get("party"))
        return f"{party}, {get('body') or ''} {get('paragraph') or ''}".strip()
    if key == "cases.signature":
        party = _choice_label(apps.get_model("cases", "Signature")._meta.get_field("party"), get("party"))
        return f"{party}, {get('signatory_name') or ''}"
    if key == "cases.attachment":
        return get("original_name") or ""
    if key == "cases.followup":
        return _("Follow-up %(year)s") % {"year": get("year")}
    if key == "cases.followupentry":
        follow_up = names.get("cases.followup", get("follow_up_id"))
        area = names.get("cases.collaborationarea", get("area_id"))
        return f"{follow_up}, {area}"
    if key == "cases.actionpoint":
        text = (get("description") or "").strip()
        return text[:60] + ("…" if len(text) > 60 else "")
    if key == "workflows.taskdeadline":
        return names.get(TASK, get("task_id"))
    return f"#{get('id')}"


class Names:
    """Names of linked objects, keyed by (model label_lower, pk)."""

    def __init__(self):
        self.known = {}
        self.missing = {}

    def add(self, key, pk, name):
        if pk is not None:
            self.known[(key, pk)] = name

    def get(self, key, pk):
        if pk is None:
            return ""
        return self.known.get((key, pk), f"#{pk}")

    def want(self, model, pk):
        key = model._meta.label_lower
        if pk is not None and (key, pk) not in self.known:
            self.missing.setdefault(model, set()).add(pk)

    def fetch_missing(self, using="default"):
        """One query per model with names still unknown."""
        for model, ids in self.missing.items():
            if model is User:  # the usual case: read as values, named as _name_of names them
                found = User._default_manager.using(using).filter(pk__in=ids).values_list("pk", "full_name", "email")
                for pk, full_name, email in found:
                    self.add("accounts.user", pk, full_name or email)
                continue
            for obj in model._default_manager.using(using).filter(pk__in=ids):
                self.add(model._meta.label_lower, obj.pk, _name_of(obj))
        self.missing = {}


def _name_of(obj):
    if isinstance(obj, User):
        return obj.full_name or obj.email
    if isinstance(obj, Agreement):
        return obj.case_number
    if isinstance(obj, Task):
        return str(obj.flow_task.task_title) if obj.flow_task else f"#{obj.pk}"
    return str(obj)


# ---------------------------------------------------------------------------
# Values as people read them
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _choice_labels(f, language):
    """{value: label} of a field's choices, translated into ``language`` (the active one)."""
    return {value: str(label) for value, label in f.flatchoices}


def _choice_label(f, value):
    labels = _choice_labels(f, get_language())
    return labels[value] if value in labels else str(value)


def _skipped(f):
    return (
        f.primary_key
        or f.name == "id"
        or getattr(f, "auto_now", False)
        or getattr(f, "auto_now_add", False)
        or isinstance(f, models.FileField)
    )


@functools.cache
def _tracked_fields(src):
    """The audited model's fields that the history table records and the
    timeline shows, with their history column."""
    history_columns = {f.attname for f in src.model._meta.concrete_fields}
    return tuple(f for f in src.audited._meta.concrete_fields if not _skipped(f) and f.attname in history_columns)


def display(f, value, names):
    if value is None or value == "":
        return ""
    if f.is_relation:
        return names.get(f.related_model._meta.label_lower, value)
    if f.choices:
        return _choice_label(f, value)
    if isinstance(f, models.BooleanField):
        return _("Yes") if value else _("No")
    if isinstance(f, models.DateTimeField):
        return display_formats.when(value)
    if isinstance(f, models.DateField):
        return display_formats.day(value)
    if isinstance(f, models.JSONField):
        if isinstance(value, list) and all(isinstance(item, dict) and "title" in item for item in value):
            return "; ".join(str(item["title"]) for item in value)
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def field_label(f):
    """A field's verbose name, translated also when the model gave none."""
    return _field_label(f, get_language())


@functools.lru_cache(maxsize=1024)
def _field_label(f, language):
    return str(capfirst(_(f.verbose_name) if isinstance(f.verbose_name, str) else f.verbose_name))


def _change(label, old, new):
    marked = mark_words(old, new) if old and new and max(len(old), len(new)) > LONG_TEXT else None
    return Change(label=label, old=old, new=new, marked=marked)


def _changes(src, previous, row, m2m, names):
    """[Change] between two consecutive history rows of one object (all
    non-empty values when ``previous`` is None)."""
    changes = []
    for f in _tracked_fields(src):
        value = row.get(f.attname)
        if previous:
            before = previous.get(f.attname)
            if before == value:  # the same value reads the same
                continue
            old = display(f, before, names)
        else:
            old = ""
        new = display(f, value, names)
        if old != new:
            changes.append(_change(field_label(f), old, new))
    for (key, field_name), links in m2m.items():
        if key != src.key:
            continue
        m2m_field = src.audited._meta.get_field(field_name)
        old = "; ".join(name for _pk, name in links.get(previous["history_id"], [])) if previous else ""
        new = "; ".join(name for _pk, name in links.get(row["history_id"], []))
        if old != new:
            changes.append(_change(field_label(m2m_field), old, new))
    return changes


# ---------------------------------------------------------------------------
# The timeline
# ---------------------------------------------------------------------------


def _in_order(dated):
    """The distinct texts of [(when, text)], in time order."""
    seen = []
    for _when, text in sorted(dated, key=lambda item: item[0]):
        if text not in seen:
            seen.append(text)
    return seen


EMAIL_COLUMNS = (
    "pk",
    "status",
    "created_at",
    "sent_at",
    "digest__status",
    "digest__sent_at",
    "recipient_id",
    "recipient__full_name",
    "recipient__email",
    "to_address",
    "subject",
    "last_error",
    "reason",
    "task_id",
)


def _emails_of(agreement):
    return (
        OutgoingEmail.objects.filter(task__process__agreementprocess__agreement=agreement)
        .order_by("created_at", "pk")
        .values_list(*EMAIL_COLUMNS)
    )


def _email_events(agreement, names, using="default"):
    """The e-mails about the agreement's steps (the outbox): what was sent to
    whom and why, when it was sent (or that it waits, is held for a digest, or
    failed, with its error). One query, of the columns shown."""
    Status = OutgoingEmail.Status
    subject_label = capfirst(_("subject"))
    digest_label, in_digest = capfirst(_("digest")), _("in the daily digest")
    error_label = capfirst(_("last error"))
    events = []
    for (
        pk,
        status,
        created_at,
        sent_at,
        digest_status,
        digest_sent_at,
        recipient_id,
        recipient_name,
        recipient_email,
        to_address,
        email_subject,
        last_error,
        reason,
        task_id,
    ) in prepared.prepared_rows("emails", _emails_of, agreement.pk, using=using):
        if status == Status.SENT:
            action, when = "email_sent", sent_at
        elif status == Status.IN_DIGEST:
            sent = digest_sent_at if digest_status == Status.SENT else None
            action, when = ("email_sent", sent) if sent else ("email_held", created_at)
        elif status == Status.HELD:
            action, when = "email_held", created_at
        elif status == Status.FAILED:
            action, when = "email_failed", created_at
        else:
            action, when = "email_waiting", created_at
        recipient = (recipient_name or recipient_email) if recipient_id else to_address
        changes = [Change(label=subject_label, old="", new=email_subject)]
        if status == Status.IN_DIGEST:
            changes.append(Change(label=digest_label, old="", new=in_digest))
        if last_error and status != Status.SENT:
            changes.append(Change(label=error_label, old="", new=last_error))
        events.append(
            Event(
                when=when,
                kind=EMAIL,
                group="emails",
                action=action,
                subject=_("E-mail to %(recipient)s") % {"recipient": f"{recipient} <{to_address}>"},
                reason=reason,  # sent by the application, not by a person: no "who"
                step=names.get(TASK, task_id),
                task_id=task_id,
                changes=changes,
                order=(when, 4, 0, pk),
            )
        )
    return events


TASK_COLUMNS = ("pk", "created", "finished", "status", "flow_task", "owner_id", "owner__full_name", "owner__email")


@dataclass
class _Step:
    pk: int
    created: datetime.datetime
    finished: datetime.datetime | None
    status: str
    flow_task: object
    owner_id: int | None
    owner_name: str


def _steps_of(agreement):
    return (
        Task.objects.filter(process__agreementprocess__agreement=agreement, flow_task_type="HUMAN")
        .order_by("created", "pk")
        .values_list(*TASK_COLUMNS)
    )


def _steps(agreement_id, using="default"):
    """The process's human tasks, oldest first, with their owners' names. One query."""
    return [
        _Step(pk, created, finished, status, flow_task, owner_id, (full_name or email) if owner_id else "")
        for pk, created, finished, status, flow_task, owner_id, full_name, email in prepared.prepared_rows(
            "steps", _steps_of, agreement_id, using=using
        )
    ]


def _regions(agreement_id):
    return Organisation.objects.filter(kind=Organisation.Kind.REGION).values_list("pk", "name")


def build_timeline(agreement: Agreement, using="default") -> Timeline:
    """Every event of ``agreement``, oldest first. ``agreement`` comes from
    ``visible_agreement`` (with its municipality, plan period, predecessor)."""
    rows = _history_rows(agreement.pk, using=using)
    m2m = _m2m_rows(agreement.pk, using=using)
    tasks = _steps(agreement.pk, using=using)

    names = Names()
    names.add("cases.agreement", agreement.pk, agreement.case_number)
    names.add("accounts.organisation", agreement.municipality_id, agreement.municipality.name)
    # The region signs every agreement (a signature names its organisation): known up
    # front, so the page costs the same queries however far the agreement has come.
    for pk, name in prepared.prepared_rows("regions", _regions, agreement.pk, using=using):
        names.add("accounts.organisation", pk, name)
    names.add("cases.planperiod", agreement.plan_period_id, agreement.plan_period.name)
    names.add("accounts.user", agreement.created_by_id, _name_of(agreement.created_by))
    if agreement.predecessor_id:
        names.add("cases.agreement", agreement.predecessor_id, agreement.predecessor.case_number)
    for task in tasks:
        names.add(TASK, task.pk, str(task.flow_task.task_title) if task.flow_task else f"#{task.pk}")
        if task.owner_id:
            names.add("accounts.user", task.owner_id, task.owner_name)
    # Objects of the agreement are named after their latest row; areas and
    # follow-ups first, as other objects are named after them.
    order = ["cases.collaborationarea", "cases.followup"]
    for key in order + [k for k in rows if k not in order]:
        for row in rows.get(key, []):
            names.add(key, row.get("id"), _subject_of(key, row, names))

    # People and linked objects outside the agreement: one query per model.
    for key, key_rows in rows.items():
        src = log.source(key)
        relations = [f for f in _tracked_fields(src) if f.is_relation]
        for row in key_rows:
            names.want(User, row.get("history_user_id"))
            for f in relations:
                names.want(f.related_model, row.get(f.attname))
    names.fetch_missing(using=using)

    events = []
    reasons_by_task = {}
    for key, key_rows in rows.items():
        src = log.source(key)
        group = GROUP_OF.get(key, OTHER[0])
        thing = str(capfirst(src.verbose_name))
        previous_by_object = {}
        for row in key_rows:
            previous = previous_by_object.get(row["id"])
            previous_by_object[row["id"]] = row
            reason = row.get("history_change_reason") or ""
            if row.get("history_task_id") and reason:
                reasons_by_task.setdefault(row["history_task_id"], []).append((row["history_date"], reason))
            changes = _changes(src, previous if row["history_type"] != "+" else None, row, m2m, names)
            if row["history_type"] == "~" and not changes:
                continue  # saved without a visible change (e.g. only the time of the last change)
            phase = 3 if key == "workflows.taskdeadline" else 0
            events.append(
                Event(
                    when=row["history_date"],
                    kind=key,
                    group=group,
                    action=row["history_type"],
                    subject=f"{thing}: {names.get(key, row['id'])}",
                    actor_id=row.get("history_user_id"),
                    actor=names.get("accounts.user", row.get("history_user_id")),
                    reason=reason,
                    step=names.get(TASK, row.get("history_task_id")),
                    task_id=row.get("history_task_id"),
                    ip=row.get("history_ip"),
                    history_id=row["history_id"],
                    changes=changes,
                    order=(row["history_date"], phase, src.rank, row["history_id"]),
                )
            )

    for task in tasks:
        title = names.get(TASK, task.pk)
        subject = f"{capfirst(_('step'))}: {title}"
        events.append(
            Event(
                when=task.created,
                kind=STEP,
                group="steps",
                action="step_started",
                subject=subject,
                task_id=task.pk,
                order=(task.created, 2, 0, task.pk),
            )
        )
        if task.finished:
            events.append(
                Event(
                    when=task.finished,
                    kind=STEP,
                    group="steps",
                    action="step_done" if task.status == "DONE" else "step_cancelled",
                    subject=subject,
                    actor_id=task.owner_id,
                    actor=names.get("accounts.user", task.owner_id),
                    reason="; ".join(_in_order(reasons_by_task.get(task.pk, []))),
                    step=title,
                    task_id=task.pk,
                    order=(task.finished, 1, 0, task.pk),
                )
            )
    events.extend(_email_events(agreement, names, using=using))
    events.sort(key=lambda e: e.order)
    actors = sorted({(e.actor_id, e.actor) for e in events if e.actor_id}, key=lambda a: (a[1].lower(), a[0]))
    stages = sorted((row["history_date"], row["review_round"], row["stage"]) for row in rows.get("cases.agreement", []))
    return Timeline(agreement=agreement, events=events, actors=actors, stages=stages)
