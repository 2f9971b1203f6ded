"""Template helpers for the county pages' navigation; the rules themselves are
in accounts.permissions."""

from django import template

from accounts.permissions import sees_all_municipalities

register = template.Library()


@register.simple_tag
def sees_whole_county(user):
    """Does ``user`` see every municipality (coordinators, auditors)? Reads the
    memberships the request has usually read already."""
    return sees_all_municipalities(user)
