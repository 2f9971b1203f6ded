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
    on_behalf_of: object = None  # the absent person a substitute acts for (accounts.permissions.acting_for)


_current = contextvars.ContextVar("samverkan_audit_context", default=AuditContext())  # noqa: B039 (frozen)
# The history rows a deferred_history() block holds back until its end (None outside one).
_deferred = contextvars.ContextVar("samverkan_deferred_history", default=None)


def current_audit_context() -> AuditContext:
    """The audit context of the code path now running (who, why, from where, in which step)."""
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


def _chain_hash_field():
    """The hash of a history row in its table's chain: set by the database on
    insert (cases/audit/sql.py), never by the application."""
    return models.CharField(_("chain hash"), max_length=64, blank=True, default="", editable=False)


class AuditedHistoricalModel(models.Model):
    """The abstract base of every historical table. Its ``history_date`` is
    set by the database on insert (cases/audit/sql.py): the time the row was
    written, whatever the application sent."""

    history_ip = models.GenericIPAddressField(_("client address"), null=True, blank=True)
    history_task_id = models.BigIntegerField(_("workflow task"), null=True, blank=True)
    history_hash = _chain_hash_field()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        held = _deferred.get()
        # A row whose many-to-many history refers to it (simple-history writes those right after it) is
        # written at once; so is anything saved again or outside a deferred_history() block.
        if held is not None and self._state.adding and not getattr(self, "_history_m2m_fields", None):
            held.append((self, args, kwargs))
            return
        super().save(*args, **kwargs)


class AuditedHistoricalM2MModel(models.Model):
    """The abstract base of the history tables of many-to-many fields (one row
    per link, pointing at its parent history row): chained like every history
    table, so a removed link row breaks the chain."""

    history_hash = _chain_hash_field()

    class Meta:
        abstract = True


@contextmanager
def deferred_history():
    """Write the history rows of the block at its end, table by table.

    The hash chain (cases/audit/sql.py) locks a history table from a
    transaction's first row in it until commit, so a step that wrote its first
    history row early held the lock while viewflow completed the task and
    created the next ones. Inside this block the rows are built when the data
    is saved, with the same who, why and task, and inserted at the end: the
    lock is held only from there to commit. (Their time is the database's when
    they are inserted, as for every history row.) The tables are written in name
    order, so two such blocks cannot wait for each other's tables in opposite
    orders (a deadlock). Use it inside the transaction, as its last part: the
    rows are not in the database (nor readable) until the block ends, and
    nothing is written if it ends with an exception."""
    if _deferred.get() is not None:  # nested: the outer block writes
        yield
        return
    held = []
    token = _deferred.set(held)
    try:
        yield
    finally:
        _deferred.reset(token)
    # sorted() is stable: rows of one table keep the order they were saved in.
    for row, args, kwargs in sorted(held, key=lambda item: item[0]._meta.db_table):
        row.save(*args, **kwargs)


def audited_history(**kwargs):
    """HistoricalRecords configured the one way every audited model uses."""
    kwargs.setdefault("bases", [AuditedHistoricalModel])
    kwargs.setdefault("m2m_bases", [AuditedHistoricalM2MModel])
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
    if context.on_behalf_of is not None:
        from .audit_reasons import on_behalf_of

        history_instance.history_change_reason = on_behalf_of(
            reason=history_instance.history_change_reason or "", person=context.on_behalf_of.full_name
        )
