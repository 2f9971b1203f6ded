"""Side-by-side comparison of an agreement's texts: any two review rounds, the
current draft, or the predecessor a renewal started from. Areas are matched by
identity (a renewed area by the area it was copied from), and each field's
words are marked as added or removed."""

import difflib
import re
from dataclasses import dataclass, field

from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

FIELDS = [
    ("title", _("Title")),
    ("goal", _("Goal")),
    ("region_commitment", _("The region commits to")),
    ("municipality_commitment", _("The municipality commits to")),
    ("contacts", _("Contact persons")),
    ("priorities", _("Plan priorities")),
]
_TOKENS = re.compile(r"\s+|[^\s]+")


def snapshot(agreement, *, key_by_origin=False):
    """The agreement's current areas as revision content. With ``key_by_origin``
    each area is keyed by the area it was copied from (for renewals)."""
    rows = []
    for area in agreement.active_areas().prefetch_related("priorities"):
        rows.append(
            {
                "id": (area.copied_from_id or area.pk) if key_by_origin else area.pk,
                "title": area.title,
                "goal": area.goal,
                "region_commitment": area.region_commitment,
                "municipality_commitment": area.municipality_commitment,
                "contacts": area.contacts,
                "priorities": sorted(p.title for p in area.priorities.all()),
            }
        )
    return rows


def _text(value):
    return "; ".join(value) if isinstance(value, list) else (value or "")


FOLD_CONTEXT = 12  # words kept on each side of a change when the unchanged text between is folded


def _folded(tokens, *, first, last):
    """Escaped unchanged text; a long run keeps FOLD_CONTEXT words next to each change
    and says how many words it leaves out."""
    words = [i for i, token in enumerate(tokens) if not token.isspace()]
    keep_head = 0 if first else FOLD_CONTEXT
    keep_tail = 0 if last else FOLD_CONTEXT
    if len(words) <= keep_head + keep_tail + FOLD_CONTEXT:
        return escape("".join(tokens))
    head_end = words[keep_head - 1] + 1 if keep_head else 0
    tail_start = words[len(words) - keep_tail] if keep_tail else len(tokens)
    left_out = len(words) - keep_head - keep_tail
    note = _("%(count)s unchanged words") % {"count": left_out}
    return (
        escape("".join(tokens[:head_end]))
        + f' <span class="folded">[… {escape(note)} …]</span> '
        + escape("".join(tokens[tail_start:]))
    )


def mark_words(old: str, new: str, *, fold: bool = False):
    """HTML of ``new`` with removed words in <del> and added ones in <ins>.
    With ``fold``, long unchanged stretches are shortened to the words next to a change."""
    a, b = _TOKENS.findall(old), _TOKENS.findall(new)
    parts = []
    opcodes = difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes()
    for index, (op, i1, i2, j1, j2) in enumerate(opcodes):
        if op == "equal":
            if fold:
                parts.append(_folded(a[i1:i2], first=index == 0, last=index == len(opcodes) - 1))
            else:
                parts.append(escape("".join(a[i1:i2])))
        if op in ("delete", "replace"):
            parts.append(f"<del>{escape(''.join(a[i1:i2]))}</del>")
        if op in ("insert", "replace"):
            parts.append(f"<ins>{escape(''.join(b[j1:j2]))}</ins>")
    return mark_safe("".join(parts))  # noqa: S308 – every piece is escaped above


@dataclass
class AreaComparison:
    title: str
    status: str  # "added", "removed", "changed", "unchanged"
    fields: list = field(default_factory=list)  # (label, old text, new text, marked html, changed?)

    @property
    def changed(self):
        return self.status != "unchanged"


def compare(left: list[dict], right: list[dict]) -> list[AreaComparison]:
    left_by_id = {row["id"]: row for row in left}
    right_ids = {row["id"] for row in right}
    result = []
    for row in right:
        old = left_by_id.get(row["id"])
        status = "added" if old is None else "unchanged"
        fields = []
        for key, label in FIELDS:
            before, after = _text(old.get(key)) if old else "", _text(row.get(key))
            if old is not None and before != after:
                status = "changed"
            fields.append((label, before, after, mark_words(before, after, fold=True), before != after))
        result.append(AreaComparison(title=row["title"], status=status, fields=fields))
    for row in left:
        if row["id"] not in right_ids:
            fields = [
                (label, _text(row.get(key)), "", mark_words(_text(row.get(key)), "", fold=True), True)
                for key, label in FIELDS
            ]
            result.append(AreaComparison(title=row["title"], status="removed", fields=fields))
    return result
