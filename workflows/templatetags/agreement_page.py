"""The repeated parts of the agreement page (templates/workflows/agreement_detail.html
and the process map and collaboration areas it includes; the areas also on the
review step), written in Python: the same markup as the template loops they
replace, every value escaped (``cases.rows``). At 100,000 agreements, once its
lists were read in two queries, the template engine's lookups in these loops
were the larger part of the page's rendering."""

from django import template
from django.template.defaultfilters import linebreaksbr
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from cases.rows import RowWriter, esc

register = template.Library()


@register.simple_tag
def process_map_shapes(process_map):
    """The arrows and step boxes of the process map's SVG (workflows.process_map.ProcessMap)."""
    parts = [
        f'<line x1="{arrow.x1}" y1="{arrow.y1}" x2="{arrow.x2}" y2="{arrow.y2}" stroke="#333" stroke-width="2"'
        ' marker-end="url(#process-arrow)"/>'
        for arrow in process_map.arrows
    ]
    for box in process_map.boxes:
        status, text_x = esc(box.status), box.text_x
        lines = "".join(
            f'<tspan x="{text_x}" dy="{0 if first else 16}">{esc(line)}</tspan>'
            for first, line in zip([True] + [False] * len(box.lines), box.lines, strict=False)
        )
        parts.append(
            f'\n    <g class="step step-{status}" data-step="{esc(box.name)}" data-status="{status}">\n'
            f'      <rect x="{box.x}" y="{box.y}" width="{box.width}" height="66" rx="6"/>\n'
            f'      <text x="{text_x}" y="{box.text_y}">{lines}</text>\n'
            f'      <text class="status" x="{text_x}" y="{box.status_y}">{esc(box.sign)} {esc(box.label)}</text>\n'
            "    </g>"
        )
    return mark_safe("".join(parts))  # noqa: S308 (every value in it escaped)


@register.simple_tag
def steps_taken(tasks):
    """The <li> of each ended step: its title, how it ended, by whom and when."""
    out = RowWriter()
    items = []
    for task in tasks:
        node = task.flow_task
        item = (
            f"<li>{out.label(('step', node.name), lambda node=node: node.task_title)}: "
            f"{out.label(('status', task.status), task.get_status_display)}"
        )
        if task.owner:
            item += f", {esc(task.owner.full_name)}"
        if task.finished:
            item += f", {out.day(task.finished, 'j F Y H:i')}"
        items.append(item + "</li>")
    return mark_safe("".join(items))  # noqa: S308 (every value in it escaped)


@register.simple_tag
def follow_up_sections(follow_ups):
    """A section for each follow-up: its status, its PDF and the entry of each area."""
    out = RowWriter()
    headings = (
        f'<thead><tr><th scope="col">{esc(_("Collaboration area"))}</th><th scope="col">{esc(_("Status"))}</th>'
        f'<th scope="col">{esc(_("How it is going"))}</th></tr></thead>'
    )
    sections = []
    for follow_up in follow_ups:
        year = esc(follow_up.year)
        named = _("Follow-up %(year)s") % {"year": year}  # as blocktranslate: the year escaped, not the text
        entries = "".join(
            f"<tr><td>{esc(entry.area.title)}</td>"
            f"<td>{out.label(('progress', entry.progress), entry.get_progress_display)}</td>"
            f"<td>{linebreaksbr(entry.narrative) or '–'}</td></tr>"
            for entry in follow_up.entries.all()
        )
        comment = ""
        if follow_up.review_comment:
            comment = f"\n  <p><strong>{esc(_('Comment'))}:</strong> {esc(follow_up.review_comment)}</p>"
        sections.append(
            f'<section class="card" aria-labelledby="fu-{year}">\n'
            f'  <h3 id="fu-{year}">{named}: {out.label(("status", follow_up.status), follow_up.get_status_display)}'
            "</h3>\n"
            f'  <p><a href="{out.url("workflows:follow_up_pdf", follow_up.pk)}">'
            f"{_('Follow-up %(year)s as PDF') % {'year': year}}</a></p>\n"
            f'  <table><caption class="visually-hidden">{named}</caption>\n'
            f"    {headings}\n"
            f"    <tbody>{entries}</tbody>\n"
            f"  </table>{comment}\n"
            "</section>"
        )
    return mark_safe("\n".join(sections))  # noqa: S308 (every value in it escaped)


@register.simple_tag(takes_context=True)
def area_sections(context, areas):
    """A section for each collaboration area (templates/workflows/_areas.html): its
    goal, commitments, contacts and plan priorities; a badge asks for a priority
    while the agreement (``agreement`` of the page, if any) has not ended."""
    agreement = context.get("agreement")
    no_priority = (
        f'<strong class="badge overdue">{esc(_("Choose a priority"))}</strong>'
        if agreement and not agreement.is_final
        else "–"
    )
    labels = (esc(_("Goal")), esc(_("The region commits to")), esc(_("The municipality commits to")))
    contacts_label, priorities_label = esc(_("Contact persons")), esc(_("Plan priorities"))
    sections = []
    for number, area in enumerate(areas, start=1):
        pk = esc(area.pk)
        facts = "".join(
            f"\n    <dt>{label}</dt><dd>{linebreaksbr(text)}</dd>"
            for label, text in zip(
                labels, (area.goal, area.region_commitment, area.municipality_commitment), strict=True
            )
        )
        if area.contacts:
            facts += f"\n    <dt>{contacts_label}</dt><dd>{linebreaksbr(area.contacts)}</dd>"
        priorities = "; ".join(esc(priority.title) for priority in area.priorities.all()) or no_priority
        sections.append(
            f'\n<section class="card" aria-labelledby="area-{pk}">\n'
            f'  <h3 id="area-{pk}">{number}. {esc(area.title)}</h3>\n'
            f'  <dl class="facts">{facts}\n'
            f"    <dt>{priorities_label}</dt><dd>{priorities}</dd>\n"
            "  </dl>\n"
            "</section>"
        )
    if not sections:
        sections.append(f"\n<p>{esc(_('No collaboration areas yet.'))}</p>")
    return mark_safe("".join(sections))  # noqa: S308 (every value in it escaped)
