"""Template helpers of the audit pages: ``{% load audit_tags %}``."""

import datetime
import html

from django import template
from django.template.defaultfilters import linebreaksbr
from django.utils import timezone
from django.utils.dates import MONTHS
from django.utils.safestring import mark_safe
from django.utils.text import normalize_newlines
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from accounts import permissions
from cases.rows import RowWriter, esc

register = template.Library()

FACT_LABELS = {
    "kind": gettext_lazy("Kind"),
    "who": gettext_lazy("Who"),
    "why": gettext_lazy("Why"),
    "step": gettext_lazy("In the step"),
    "ip": gettext_lazy("Client address"),
}


@register.filter
def can_read_audit(user):
    """May ``user`` read and export the audit log? (accounts.permissions.can_read_audit)"""
    return permissions.can_read_audit(user)


@register.simple_tag
def timeline_body(phases, *, open_all, can_read_audit):
    """The timeline's phases and events (templates/audit/timeline.html), written
    in Python: with every event's facts and changes looked up through the
    template engine, the page cost 7–10 times its SQL (#20). Every value is
    escaped; ``Change.marked`` is HTML the timeline made with escaped parts."""
    out = RowWriter()
    times = _Times(out)
    facts = {key: esc(label) for key, label in FACT_LABELS.items()}
    changes_head = (
        f'<table>\n      <caption class="visually-hidden">{esc(_("Changes"))}</caption>\n'
        f'      <thead><tr><th scope="col">{esc(_("Field"))}</th><th scope="col">{esc(_("Before"))}</th>'
        f'<th scope="col">{esc(_("After"))}</th></tr></thead>\n      <tbody>'
    )
    parts = []
    for number, phase in enumerate(phases, start=1):
        first, last = phase.first, phase.last
        span = out.day(first)
        if timezone.localtime(first).date() != timezone.localtime(last).date():
            span += f" – {out.day(last)}"
        count = ngettext("one event", "%(counter)s events", len(phase.events)) % {"counter": len(phase.events)}
        is_open = " open" if open_all or number == len(phases) else ""
        parts.append(
            f'<details class="phase" data-phase="{esc(phase.key)}"{is_open}>\n'
            f'    <summary><h2 class="phase-heading">{esc(phase.label)}</h2>\n'
            f'      <span class="muted">{esc(count)}, {span}</span></summary>'
        )
        for index, event in enumerate(phase.events, start=1):
            anchor = f"event-{number}-{index}"
            action = out.label(("action", event.action), lambda event=event: event.action_label)
            group = out.label(("group", event.group), lambda event=event: event.group_label)
            iso, shown = times.of(event.when)
            lines = [
                f'  <section class="card event" data-kind="{esc(event.kind)}" aria-labelledby="{anchor}">',
                f'    <h3 id="{anchor}"><time datetime="{iso}">{shown}</time> – {action}: {esc(event.subject)}</h3>',
                '    <dl class="facts">',
                f"      <dt>{facts['kind']}</dt><dd>{group}</dd>",
                f'      <dt>{facts["who"]}</dt><dd class="actor">{esc(event.actor) if event.actor else "–"}</dd>',
            ]
            if event.reason:
                lines.append(f'      <dt>{facts["why"]}</dt><dd class="reason">{esc(event.reason)}</dd>')
            if event.step:
                lines.append(f"      <dt>{facts['step']}</dt><dd>{esc(event.step)}</dd>")
            if can_read_audit and event.ip:
                lines.append(f"      <dt>{facts['ip']}</dt><dd>{esc(event.ip)}</dd>")
            lines.append("    </dl>")
            if event.changes:
                lines.append(changes_head)
                for change in event.changes:
                    after = linebreaksbr(change.marked) if change.marked else _lines(change.new)
                    lines.append(
                        f'        <tr><th scope="row">{esc(change.label)}</th><td>{_lines(change.old)}</td>'
                        f"<td>{after}</td></tr>"
                    )
                lines.append("      </tbody>\n    </table>")
            lines.append("  </section>")
            parts.append("\n".join(lines))
        parts.append("  </details>")
    if not parts:
        parts.append(f"  <p>{esc(_('No events match.'))}</p>")
    return mark_safe("\n".join(parts))  # noqa: S308 (every value in it escaped)


def _lines(value):
    """A value with its line breaks as <br>, escaped; "–" when empty (as the
    linebreaksbr filter writes it, without its decorators for plain text)."""
    if not value:
        return "–"
    if type(value) is not str:  # e.g. safe or lazy text: as the filter treats it
        return linebreaksbr(value)
    text = html.escape(value)
    return normalize_newlines(text).replace("\n", "<br>") if "\r" in text or "\n" in text else text


class _Times:
    """An event's time as the date filter writes it with formats "c" and
    "j F Y H:i:s" (in the local zone, escaped): the month's name looked up once
    per page, not a DateFormat per event."""

    def __init__(self, out):
        self.out = out
        self.months = {}

    def of(self, when):
        if not isinstance(when, datetime.datetime) or timezone.is_naive(when):
            return self.out.day(when, "c"), self.out.day(when, "j F Y H:i:s")
        local = timezone.localtime(when)
        month = self.months.get(local.month)
        if month is None:
            month = self.months[local.month] = esc(MONTHS[local.month])
        return (
            esc(local.isoformat()),
            f"{local.day} {month} {local.year:04d} {local.hour:02d}:{local.minute:02d}:{local.second:02d}",
        )


@register.simple_tag
def log_rows(rows, *, empty):
    """The audit log's rows (templates/audit/log.html), written in Python (#20):
    50 rows of seven cells each through the template engine were most of the
    page's time. Every value is escaped."""
    out = RowWriter()
    lines = []
    for row in rows:
        step = ""
        if row.task_id:
            step = f'<br><span class="muted">{esc(_("step %(task)s") % {"task": row.task_id})}</span>'
        if row.agreement_id:
            agreement = (
                f'<a href="{out.url("workflows:agreement_timeline", row.agreement_id)}">'
                f"{esc(row.case_number or row.agreement_id)}</a>"
            )
        else:
            agreement = "–"
        if row.municipality_name:
            agreement += f'<br><span class="muted">{esc(row.municipality_name)}</span>'
        who = esc(row.user_name) if row.user_name else "–"
        if row.ip:
            who += f'<br><span class="muted">{esc(row.ip)}</span>'
        lines.append(
            f'<tr>\n      <td><time datetime="{out.day(row.history_date, "c")}">'
            f"{out.day(row.history_date, 'j F Y H:i:s')}</time></td>\n"
            f"      <td>{esc(row.kind_label)}: {esc(row.event_label)}{step}</td>\n"
            f"      <td>{agreement}</td>\n      <td>{who}</td>\n"
            f"      <td>{esc(row.why) if row.why else '–'}</td>\n"
            f'      <td>{esc(row.what)}<br><span class="muted" title="{esc(row.table)} {esc(row.history_id)} '
            f'{esc(row.row_hash)}">#{esc(row.history_id)}</span></td>\n    </tr>'
        )
    if not lines:
        lines.append(f'<tr><td colspan="6">{esc(empty)}</td></tr>')
    return mark_safe("\n    ".join(lines))  # noqa: S308 (every value in it escaped)
