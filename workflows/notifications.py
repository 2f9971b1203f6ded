"""E-mail to the people who must act when a step reaches them. Sent only after
the transaction commits, so a rolled-back step sends nothing."""

import contextvars
from contextlib import contextmanager

from django.conf import settings
from django.core.mail import send_mass_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from accounts.permissions import users_who_can

_suppressed = contextvars.ContextVar("samverkan_notifications_suppressed", default=False)


@contextmanager
def notifications_suppressed():
    """No e-mail for steps reached inside this block (demo data, bulk loads)."""
    token = _suppressed.set(True)
    try:
        yield
    finally:
        _suppressed.reset(token)


def notify_step_reached(*, task, agreement, action, step_title, due_on):
    if _suppressed.get():
        return
    recipients = [u.email for u in users_who_can(action, agreement.municipality) if u.email]
    if not recipients:
        return
    with translation.override(settings.LANGUAGE_CODE):
        context = {
            "agreement": agreement,
            "step_title": step_title,
            "due_on": due_on,
            "url": settings.SITE_URL.rstrip("/")
            + reverse("workflows:step", args=[task.process_id, task.flow_task.name, task.pk]),
        }
        subject = render_to_string("workflows/email/step_reached_subject.txt", context).strip()
        body = render_to_string("workflows/email/step_reached.txt", context)
    messages = [(subject, body, settings.DEFAULT_FROM_EMAIL, [email]) for email in recipients]
    transaction.on_commit(lambda: send_mass_mail(messages, fail_silently=False))
