"""The rows of the long lists (inbox, queue, archive; the agreement list),
written in Python from plain values (``workflows.selectors.StepRow``,
``cases.agreements.selectors.AgreementRow``): see ``cases.rows``."""

from django import template
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from cases.models import Stage
from cases.rows import RowWriter, choice_label, esc

register = template.Library()


@register.simple_tag
def step_rows(rows, *, today, empty, link_steps=False, done=False, show_owner=False):
    """<tr> elements for ``rows``; the markup is that of the template it replaces
    (templates/workflows/_task_table.html), every value escaped."""
    out = RowWriter()
    overdue_badge = f' <span class="badge overdue">{esc(_("Overdue"))}</span>'
    escalated_badge = f' <span class="badge escalated">{esc(_("Escalated"))}</span>'
    lines = []
    for row in rows:
        node = row.flow_task
        title = out.label(("step", node.name), lambda node=node: node.task_title)
        if link_steps:
            title = f'<a href="{out.url("workflows:step", row.process_id, node.name, row.pk)}">{title}</a>'
        agreement = (
            f'<a href="{out.url("workflows:agreement", row.agreement_id)}">{esc(row.case_number)}</a> {esc(row.title)}'
        )
        if done:
            when = out.day(row.finished, "j F Y H:i")
        else:
            when = out.day(row.due_on)
            if row.due_on is not None and row.due_on < today:
                when += overdue_badge
            if row.escalated:
                when += escalated_badge
        cells = [title, agreement, esc(row.municipality), when]
        if show_owner:
            cells.append(esc(row.owner_name) if row.owner_name else "–")
        lines.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    if not lines:
        lines.append(f'<tr><td colspan="{5 if show_owner else 4}">{esc(empty)}</td></tr>')
    return mark_safe("\n    ".join(lines))  # noqa: S308 (every value in it escaped)


@register.simple_tag
def agreement_rows(rows, *, empty):
    """<tr> elements of the agreement list (templates/workflows/agreement_list.html)."""
    out = RowWriter()
    overdue_badge = f' <span class="badge overdue">{esc(_("Overdue"))}</span>'
    lines = [
        f'<tr><td><a href="{out.url("workflows:agreement", row.pk)}">{esc(row.case_number)}</a></td>'
        f"<td>{esc(row.title)}</td><td>{esc(row.municipality)}</td><td>{esc(row.plan_period)}</td>"
        f"<td>{out.label(('stage', row.stage), lambda row=row: choice_label(Stage.choices, row.stage))}"
        f"{overdue_badge if row.overdue else ''}</td></tr>"
        for row in rows
    ]
    if not lines:
        lines.append(f'<tr><td colspan="5">{esc(empty)}</td></tr>')
    return mark_safe("\n    ".join(lines))  # noqa: S308 (every value in it escaped)
