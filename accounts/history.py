"""The audit context every history row is written with.

simple-history writes one historical row per save. We add to each row what an
auditor asks about besides who and when: why (the step or form action), from
which client address, and in which workflow task. Service functions declare the
"why" with ``audit_context(actor=..., reason=...)``; the middleware adds the
client address; the workflow layer adds the task. The values live in a context
variable, so they follow the code path that does the write and never leak
between requests or threads.

This lives in ``accounts`` because it is the lowest layer: users,
organisations and memberships are audited with the same base as the cases.
"""

import contextvars
from contextlib import contextmanager
from dataclasses import dataclass, replace

from django.db import models
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords
from simple_history.signals import pre_create_historical_record


@dataclass(frozen=True)
class AuditContext:
    actor: object = None
    reason: str = ""
    ip: str | None = None
    task_id: int | None = None


_current = contextvars.ContextVar("samverkan_audit_context", default=AuditContext())  # noqa: B039 (frozen)


def current_audit_context() -> AuditContext:
    return _current.get()


@contextmanager
def audit_context(**changes):
    """Add to the audit context for the duration of the block.

    Values not given are kept from the enclosing context, so a service called
    inside a workflow task keeps the task and the client address."""
    changes = {key: value for key, value in changes.items() if value is not None}
    token = _current.set(replace(_current.get(), **changes))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def _history_user(instance, request, **kwargs):
    actor = _current.get().actor
    if actor is not None and getattr(actor, "pk", None):
        return actor
    if request is not None and getattr(request, "user", None) and request.user.is_authenticated:
        return request.user
    return None


class AuditedHistoricalModel(models.Model):
    """The abstract base of every historical table."""

    history_ip = models.GenericIPAddressField(_("client address"), null=True, blank=True)
    history_task_id = models.BigIntegerField(_("workflow task"), null=True, blank=True)
    # Set by the database on insert (the hash chain), never by the application.
    history_hash = models.CharField(_("chain hash"), max_length=64, blank=True, default="", editable=False)

    class Meta:
        abstract = True


def audited_history(**kwargs):
    """HistoricalRecords configured the one way every audited model uses."""
    kwargs.setdefault("bases", [AuditedHistoricalModel])
    kwargs.setdefault("get_user", _history_user)
    kwargs.setdefault("history_change_reason_field", models.TextField(null=True))
    return HistoricalRecords(**kwargs)


@receiver(pre_create_historical_record)
def _fill_audit_fields(sender, history_instance, **kwargs):
    """Copy the audit context onto the historical row before it is inserted."""
    if not isinstance(history_instance, AuditedHistoricalModel):
        return
    context = _current.get()
    history_instance.history_ip = context.ip
    history_instance.history_task_id = context.task_id
    if not history_instance.history_change_reason and context.reason:
        history_instance.history_change_reason = str(context.reason)
