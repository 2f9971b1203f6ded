"""E-mail about a person's own account (enrolment links, a reset of their
two-step verification). Every such message goes through ``send_account_email``:
rendered now, in Swedish, and handed to Django's mail API only when the
transaction commits, so a rolled-back change sends nothing.

(When the background worker's outbox lands, this one function is rerouted to
queue the message in the same transaction instead.)"""

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation


def send_account_email(*, user, template, context):
    """Send ``accounts/email/<template>.txt`` (and ``<template>_subject.txt``)
    to ``user``'s address after commit."""
    context = {"user": user, "site_url": settings.SITE_URL.rstrip("/"), **context}
    with translation.override(settings.LANGUAGE_CODE):
        subject = " ".join(render_to_string(f"accounts/email/{template}_subject.txt", context).split())
        body = render_to_string(f"accounts/email/{template}.txt", context)
    recipient = user.email
    transaction.on_commit(
        lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [recipient], fail_silently=False)
    )
