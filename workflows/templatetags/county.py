"""Template helpers for the county pages' navigation; the rules themselves are
in accounts.permissions."""

from django import template

from accounts.permissions import sees_all_municipalities, takes_steps, visible_municipality_ids

register = template.Library()


@register.simple_tag
def sees_whole_county(user):
    """Does ``user`` see every municipality (coordinators, auditors)? Reads the
    memberships the request has usually read already."""
    return sees_all_municipalities(user)


@register.simple_tag
def menu_of(user):
    """What the main menu offers ``user``: steps (to do, open steps, done) only to
    those who take steps; agreements and meetings to those who see any."""
    return {
        "steps": takes_steps(user),
        "agreements": visible_municipality_ids(user) != set(),
    }
