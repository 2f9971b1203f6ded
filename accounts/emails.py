"""E-mail about a person's own account (enrolment links, a reset of their
two-step verification). Every such message goes through ``send_account_email``:
rendered now, in Swedish, and queued in the outbox (background.mail) in the
transaction of the change it is about, so a rolled-back change sends nothing
and the request never waits for the mail server. Not digestible: a person
needs these at once."""

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation

from background.mail import queue_email


def send_account_email(*, user, template, context, actor=None):
    """Queue ``accounts/email/<template>.txt`` (and ``<template>_subject.txt``)
    to ``user``'s address."""
    context = {"user": user, "site_url": settings.SITE_URL.rstrip("/"), **context}
    with translation.override(settings.LANGUAGE_CODE):
        subject = " ".join(render_to_string(f"accounts/email/{template}_subject.txt", context).split())
        body = render_to_string(f"accounts/email/{template}.txt", context)
    queue_email(to=[user], subject=subject, body=body, reason=subject, kind=f"account_{template}", actor=actor)
