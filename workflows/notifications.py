"""E-mail to the people who must act when a step reaches them. Queued in the
outbox in the step's transaction (a rolled-back step queues nothing) and sent
by the background worker: the step never waits for the mail server."""

import contextvars
from contextlib import contextmanager

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.history import current_audit_context
from accounts.permissions import users_who_can
from background.mail import queue_email

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
    recipients = list(users_who_can(action, agreement.municipality))
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
        queue_email(
            to=recipients,
            subject=subject,
            body=body,
            reason=_("The step reached the people who can take it"),
            kind="step_reached",
            task=task,
            actor=current_audit_context().actor,
            digestible=True,
        )
