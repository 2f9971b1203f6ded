from django import template

from accounts import permissions

register = template.Library()


@register.filter
def can_manage_outgoing_email(user):
    return permissions.can_manage_outgoing_email(user)
