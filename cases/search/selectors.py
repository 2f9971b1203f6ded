"""Search across what a user may see: agreements (case number, title,
municipality), collaboration areas, review comments, follow-ups and their
entries, dialogue meetings (place, minutes) and action points.

PostgreSQL full-text search with the Swedish stemmer behind unaccent
(cases/search/vectors.py), each kind answered from its stored document
(a generated ``search_vector`` column, migration cases/0013) and its GIN index. Every kind
starts from the domain's own scoped read (``Agreement.objects.for_user``,
``visible_meetings``, ``visible_action_points``): this module states no rule
of who sees what.

Queries: one ``UNION ALL`` ranks every kind together and keeps the best
``RESULTS``; then one query per kind that has hits fetches what is shown, with
the matching words marked by ``ts_headline``. At most eight, however many rows match.
"""

from dataclasses import dataclass, field

from django.contrib.postgres.search import SearchHeadline, SearchRank
from django.db import connection
from django.db.models import Case, F, FloatField, Func, Q, TextField, Value, When
from django.db.models.functions import Cast, Coalesce, Concat
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from accounts.models import Organisation

from ..agreements.models import Agreement, CollaborationArea, ReviewComment
from ..follow_ups.models import FollowUp, FollowUpEntry
from ..meetings.models import ActionPoint, DialogueMeeting
from ..meetings.selectors import visible_action_points, visible_meetings
from . import vectors

MAX_LENGTH = 200
RESULTS = 50
CANDIDATES = 200  # per kind: the most rows ranked (see _ranked)

# ts_headline marks matches with these (private-use characters, stripped from
# the text first), and sees "<" and ">" as two more, so that it takes nothing
# in the text for a tag. Python then escapes everything and puts back <mark>.
_START, _STOP, _LT, _GT = "\ue000", "\ue001", "\ue002", "\ue003"
# A municipality named in the query lifts its agreements this much (ts_rank is 0–1).
_MUNICIPALITY_RANK = 0.5


class _Neutralised(Func):
    """translate(text, '<>' + markers, LT + GT): the text as ts_headline may mark it safely."""

    function = "translate"

    def __init__(self, expression):
        super().__init__(
            expression, Value("<>" + _START + _STOP + _LT + _GT), Value(_LT + _GT), output_field=TextField()
        )


def _text(*parts):
    """The parts joined with a separator, empty ones as ''."""
    pieces = []
    for part in parts:
        if pieces:
            pieces.append(Value(" · "))
        pieces.append(Coalesce(Cast(part, TextField()), Value(""), output_field=TextField()))
    return Concat(*pieces, output_field=TextField()) if len(pieces) > 1 else pieces[0]


def safe_snippet(raw):
    """ts_headline's output as HTML: everything escaped, the matches in <mark>."""
    text = escape(raw or "")
    text = text.replace(_START, "<mark>").replace(_STOP, "</mark>").replace(_LT, "&lt;").replace(_GT, "&gt;")
    return mark_safe(text)  # noqa: S308 (escaped above; only our own <mark> added)


@dataclass
class Hit:
    kind: str
    kind_label: str
    pk: int
    rank: float
    title: str = ""
    context: str = ""
    snippet: str = ""
    agreement_id: int | None = None
    meeting_id: int | None = None
    anchor: str = ""
    held_on: object = None


@dataclass
class Results:
    text: str
    hits: list = field(default_factory=list)
    capped: bool = False


@dataclass(frozen=True)
class _Kind:
    key: str
    label: str
    model: type
    document: object  # function returning the SearchVector
    snippet: tuple  # field paths shown (and marked) in the snippet
    title: tuple
    context: tuple = ()
    select_related: tuple = ()

    def scoped(self, user):
        return _SCOPES[self.key](user)


def _in_visible_agreements(model, path="agreement"):
    return lambda user: model.objects.filter(**{f"{path}__in": Agreement.objects.for_user(user)})


_SCOPES = {
    "agreement": lambda user: Agreement.objects.for_user(user),
    "area": lambda user: _in_visible_agreements(CollaborationArea)(user).filter(removed_at__isnull=True),
    "comment": _in_visible_agreements(ReviewComment),
    "follow_up": _in_visible_agreements(FollowUp),
    "follow_up_entry": _in_visible_agreements(FollowUpEntry, "follow_up__agreement"),
    "meeting": visible_meetings,
    "action_point": visible_action_points,
}

KINDS = (
    _Kind(
        "agreement",
        _("Agreement"),
        Agreement,
        vectors.agreement_document,
        snippet=("case_number", "title", "municipality__name"),
        title=("case_number", "title"),
        context=("municipality__name", "plan_period__name"),
        select_related=("municipality", "plan_period"),
    ),
    _Kind(
        "area",
        _("Collaboration area"),
        CollaborationArea,
        vectors.area_document,
        snippet=("title", "goal", "region_commitment", "municipality_commitment", "contacts"),
        title=("title",),
        context=("agreement__case_number", "agreement__municipality__name"),
        select_related=("agreement__municipality",),
    ),
    _Kind(
        "comment",
        _("Review comment"),
        ReviewComment,
        vectors.comment_document,
        snippet=("text",),
        title=("agreement__title",),
        context=("agreement__case_number", "agreement__municipality__name"),
        select_related=("agreement__municipality",),
    ),
    _Kind(
        "follow_up",
        _("Follow-up"),
        FollowUp,
        vectors.follow_up_document,
        snippet=("review_comment",),
        title=("agreement__title",),
        context=("agreement__case_number", "agreement__municipality__name"),
        select_related=("agreement__municipality",),
    ),
    _Kind(
        "follow_up_entry",
        _("Follow-up of an area"),
        FollowUpEntry,
        vectors.follow_up_entry_document,
        snippet=("narrative",),
        title=("area__title",),
        context=("follow_up__agreement__case_number", "follow_up__agreement__municipality__name"),
        select_related=("area", "follow_up__agreement__municipality"),
    ),
    _Kind(
        "meeting",
        _("Dialogue meeting"),
        DialogueMeeting,
        vectors.meeting_document,
        snippet=("place", "minutes"),
        title=("place",),
    ),
    _Kind(
        "action_point",
        _("Action point"),
        ActionPoint,
        vectors.action_point_document,
        snippet=("description", "owner_name"),
        title=("owner_name",),
        context=("municipality__name",),
        select_related=("municipality",),
    ),
)
_BY_KEY = {kind.key: kind for kind in KINDS}


def _matching_municipalities(query):
    """Ids of the municipalities the query names (a handful of rows: read first, so
    that the agreements' branch can use the index on their municipality)."""
    return list(
        Organisation.objects.alias(document=vectors.organisation_document())
        .filter(kind=Organisation.Kind.MUNICIPALITY, document=query)
        .values_list("pk", flat=True)
    )


def _ranked(kind, user, query, towns):
    """The kind's best RESULTS matches the user may see: (kind, pk, rank).

    Matching and ranking read the table's stored document (``StoredVector``, a
    generated column with a GIN index): the rows that match come from that
    index, or, in a municipal user's scope, from the agreements' index on their
    municipality with the stored vector checked per row; nothing rebuilds a
    document from the text. At most CANDIDATES rows are ranked, so a word found
    in nearly every row costs no more than one found in a thousand (the best of
    those are shown, and the page asks for another word when there are more)."""
    match = Q(document=query)
    rank = SearchRank(vectors.StoredVector(kind.model), query)
    if kind.key == "agreement" and towns:
        match |= Q(municipality_id__in=towns)
        rank = rank + Case(
            When(municipality_id__in=towns, then=Value(_MUNICIPALITY_RANK)),
            default=Value(0.0),
            output_field=FloatField(),
        )
    candidates = (
        kind.scoped(user)
        .alias(document=vectors.StoredVector(kind.model))
        .filter(match)
        .order_by()
        .values("pk")[:CANDIDATES]
    )
    return (
        kind.model.objects.filter(pk__in=candidates)
        .annotate(kind_key=Value(kind.key), hit_rank=Cast(rank, FloatField()))
        .order_by("-hit_rank", "-pk")
        .values_list("kind_key", "pk", "hit_rank")[:RESULTS]
    )


def _join(row, paths, separator):
    return separator.join(str(row[path]) for path in paths if row.get(path) not in (None, ""))


def _details(kind, pks, query):
    """What is shown of the kind's hits: title, context, marked snippet, where it links to."""
    link = {
        "agreement": "pk",
        "area": "agreement_id",
        "comment": "agreement_id",
        "follow_up": "agreement_id",
        "follow_up_entry": "follow_up__agreement_id",
        "meeting": "pk",
        "action_point": "meeting_id",
    }[kind.key]
    headline = SearchHeadline(
        _Neutralised(_text(*(F(path) for path in kind.snippet))),
        query,
        config=vectors.CONFIG,
        start_sel=_START,
        stop_sel=_STOP,
        max_words=35,
        min_words=15,
        max_fragments=2,
        fragment_delimiter=" … ",
    )
    extra = ("held_on",) if kind.key == "meeting" else ()
    rows = (
        kind.model.objects.filter(pk__in=pks)
        .annotate(headline=headline, link_id=F(link))
        .values("pk", "headline", "link_id", *kind.title, *kind.context, *extra)
    )
    return {row["pk"]: row for row in rows}


def _search_plainly(user, results) -> Results:
    """Without PostgreSQL (the SQLite demo of `make run`): the agreements whose
    case number, title or municipality contains the words, unranked, from the
    same scoped read. Full-text search, the other kinds and accent-insensitive
    matching need PostgreSQL."""
    kind = _BY_KEY["agreement"]
    found = Agreement.objects.for_user(user).select_related(*kind.select_related)
    for word in results.text.split():
        found = found.filter(
            Q(case_number__icontains=word) | Q(title__icontains=word) | Q(municipality__name__icontains=word)
        )
    rows = list(found.order_by("-pk")[: RESULTS + 1])
    results.capped = len(rows) > RESULTS
    for agreement in rows[:RESULTS]:
        results.hits.append(
            Hit(
                kind="agreement",
                kind_label=str(kind.label),
                pk=agreement.pk,
                rank=0.0,
                title=f"{agreement.case_number} {agreement.title}",
                context=f"{agreement.municipality.name} · {agreement.plan_period.name}",
                snippet=escape(agreement.title),
                agreement_id=agreement.pk,
            )
        )
    return results


def search(user, text) -> Results:
    """The best matches of ``text`` among what ``user`` may see, best first."""
    text = (text or "").strip()[:MAX_LENGTH]
    results = Results(text=text)
    if not text:
        return results
    if connection.vendor != "postgresql":
        return _search_plainly(user, results)
    query = vectors.search_query(text)
    towns = _matching_municipalities(query)
    branches = [_ranked(kind, user, query, towns) for kind in KINDS]
    combined = branches[0].union(*branches[1:], all=True).order_by("-hit_rank", "kind_key", "-pk")
    ranked = list(combined[: RESULTS + 1])
    results.capped = len(ranked) > RESULTS
    ranked = ranked[:RESULTS]
    wanted = {}
    for key, pk, _rank in ranked:
        wanted.setdefault(key, []).append(pk)
    shown = {key: _details(_BY_KEY[key], pks, query) for key, pks in wanted.items()}
    for key, pk, rank in ranked:
        kind, row = _BY_KEY[key], shown[key].get(pk)
        if row is None:  # gone between the two queries: nothing is deleted, but be safe
            continue
        hit = Hit(kind=key, kind_label=str(kind.label), pk=pk, rank=rank, snippet=safe_snippet(row["headline"]))
        hit.title = _join(row, kind.title, " ")
        hit.context = _join(row, kind.context, " · ")
        if key == "meeting":
            hit.meeting_id = row["link_id"]
            hit.held_on = row["held_on"]
        elif key == "action_point":
            hit.meeting_id = row["link_id"]
        else:
            hit.agreement_id = row["link_id"]
            if key == "area":
                hit.anchor = f"area-{pk}"
        results.hits.append(hit)
    return results
