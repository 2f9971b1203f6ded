"""Template helpers for the county pages' navigation; the rules themselves are
in accounts.permissions."""

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.permissions import sees_all_municipalities, takes_steps, visible_municipality_ids
from cases.rows import RowWriter, esc

register = template.Library()


@register.simple_tag
def sees_whole_county(user):
    """Does ``user`` see every municipality (coordinators, auditors)? Reads the
    memberships the request has usually read already."""
    return sees_all_municipalities(user)


@register.simple_tag
def overview_body(rows):
    """The rows of the county overview (and of a municipal user's own panel) as
    table rows. Written here rather than as template tags per cell: at national
    scale (290 municipalities) looking up each cell's variables through the
    template engine was most of the page's time (about two thirds), as
    ``cases.widgets.FastSelect`` found for long selects. The markup is that of
    the template it replaces; every value is escaped (``esc``), each label
    translated once per page."""
    out = RowWriter()
    overdue_badge = f'<span class="badge overdue">{esc(_("Overdue"))}</span>'
    escalated_badge = f' <span class="badge escalated">{esc(_("Escalated"))}</span>'
    label, day = out.label, out.day

    lines = []
    for row in rows:
        agreement = row.agreement
        if agreement is not None:
            link = f'<a href="{out.url("workflows:agreement", agreement.pk)}">{esc(agreement.case_number)}</a>'
            stage = label(("stage", agreement.stage), agreement.get_stage_display)
        else:
            link = "–"
            stage = label(("stage", None), lambda row=row: row.stage_label)
        if row.is_overdue:
            items = [
                f"<li>{overdue_badge}{escalated_badge if step.escalated else ''} {esc(step.title)} "
                f"({day(step.due_on)})</li>"
                for step in row.overdue_steps
            ]
            if row.overdue_action_points:
                points = ngettext("One action point", "%(counter)s action points", row.overdue_action_points) % {
                    "counter": row.overdue_action_points
                }
                items.append(f"<li>{overdue_badge} {esc(points)}</li>")
            what_is_overdue = "<ul>" + "".join(items) + "</ul>"
        else:
            what_is_overdue = "–"
        follow_up = row.latest_follow_up
        parts = []
        if follow_up is not None:
            status = label(("status", follow_up.status), follow_up.get_status_display)
            parts.append(f"{follow_up.year}: {status}")
        if row.area_statuses:
            parts.append(
                "<ul>"
                + "".join(
                    f"<li>{esc(entry.area.title)}: {label(('progress', entry.progress), entry.get_progress_display)}"
                    "</li>"
                    for entry in row.area_statuses
                )
                + "</ul>"
            )
            if row.reported_follow_up != follow_up:
                reported = _("as reported in %(year)s") % {"year": row.reported_follow_up.year}
                parts.append(f'<span class="muted">({esc(reported)})</span>')
        elif follow_up is None:
            parts.append("–")
        next_due = row.next_due
        lines.append(
            f'<tr>\n      <th scope="row">{esc(row.municipality.name)}</th>\n      <td>{link}</td>'
            f"\n      <td>{stage}</td>\n      <td>{esc(row.who) if row.who else '–'}</td>"
            f"\n      <td>{day(next_due) if next_due else '–'}</td>\n      <td>{what_is_overdue}</td>"
            f"\n      <td>{chr(10).join(parts)}</td>\n      <td>{int(row.open_action_points)}</td>\n    </tr>"
        )
    if not lines:
        return format_html('<tr><td colspan="8">{}</td></tr>', _("No municipalities match."))
    return mark_safe("\n    ".join(lines))  # noqa: S308 (every value in it escaped by esc)


@register.simple_tag
def tile_items(tiles):
    """The county map's tiles (cases/overview/tilemap.py) as list items, written
    here for the same reason as ``overview_body``: each tile's link through the
    template engine was a URL reversed per tile. The markup is that of the
    template it replaces."""
    out = RowWriter()
    overdue = f'<span class="tile-overdue"><span aria-hidden="true">⚠ </span>{esc(_("Overdue"))}</span>'
    items = []
    for tile in tiles:
        row = tile.row
        if row.agreement is not None:
            href = out.url("workflows:agreement", row.agreement.pk)
            stage = out.label(("stage", row.agreement.stage), row.agreement.get_stage_display)
        else:
            href = f"{out.url('workflows:agreements')}?municipality={int(row.municipality.pk)}"
            stage = out.label(("stage", None), lambda row=row: row.stage_label)
        is_overdue = row.is_overdue
        items.append(
            f'<li class="tile stage-{esc(row.stage)}{" is-overdue" if is_overdue else ""} '
            f'col-{int(tile.column)} line-{int(tile.line)}">\n      <a href="{href}">\n'
            f'        <span class="tile-name">{esc(row.municipality.name)}</span>\n'
            f'        <span class="tile-stage">{stage}</span>\n'
            f"        {overdue if is_overdue else ''}\n      </a>\n    </li>"
        )
    return mark_safe("\n    ".join(items))  # noqa: S308 (every value in it escaped by esc)


@register.simple_tag
def menu_of(user):
    """What the main menu offers ``user``: steps (to do, open steps, done) only to
    those who take steps; agreements and meetings to those who see any."""
    return {
        "steps": takes_steps(user),
        "agreements": visible_municipality_ids(user) != set(),
    }
