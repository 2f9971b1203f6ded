"""Template helpers of the administration pages: ``{% load plan_tags %}``."""

from django import template

from accounts import permissions

register = template.Library()


@register.filter
def can_read_plan_administration(user):
    """May ``user`` see the plan administration? (accounts.permissions)"""
    return permissions.can_read_plan_administration(user)
