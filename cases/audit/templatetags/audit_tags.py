"""Template helpers of the audit pages: ``{% load audit_tags %}``."""

from django import template

from accounts import permissions

register = template.Library()


@register.filter
def can_read_audit(user):
    """May ``user`` read and export the audit log? (accounts.permissions.can_read_audit)"""
    return permissions.can_read_audit(user)
