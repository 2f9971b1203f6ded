"""No way around history in code.

Every audited model (one with ``history = audited_history()``) inherits
``AuditedModel``. Its default manager, its base manager (which Django uses for
related managers and ``refresh_from_db``) and its querysets refuse the paths
that write rows without a history row: ``update()``, ``bulk_update()``,
``bulk_create()`` and ``delete()``, and ``delete()`` on an instance. Writes go
through the service functions, which save object by object so that
simple-history records who, when and why.

Append-only records that are not historical rows themselves (sign-in events)
inherit ``AppendOnlyModel``: rows are only ever inserted.

The database adds what code cannot promise: triggers on every history table
refuse UPDATE, DELETE and TRUNCATE and chain the rows by hash (``cases.audit``).

This lives in ``accounts`` because it is the lowest layer; ``cases`` and
``workflows`` import it from here.
"""

import contextvars
import logging
from contextlib import contextmanager

from django.db import models

logger = logging.getLogger(__name__)


class HistoryBypassRefused(Exception):
    """A write that would change audited rows without leaving history."""


_bulk_writes_reason = contextvars.ContextVar("samverkan_bulk_writes_reason", default=None)


@contextmanager
def bulk_writes_allowed(*, reason: str):
    """THE escape hatch, and the only one: allow ``bulk_create()``,
    ``bulk_update()`` and ``update()`` on audited models inside the block.

    Allowed only in the load-data generator (bulk-inserting test volumes),
    which must write the history rows itself, e.g. with simple-history's
    ``bulk_create_with_history``. Never in a service, view or task: those save
    object by object. ``delete()`` stays refused even here: nothing is deleted.
    """
    if not reason or not str(reason).strip():
        raise ValueError("bulk_writes_allowed() needs a reason.")
    logger.info("Bulk writes on audited models allowed: %s", reason)
    token = _bulk_writes_reason.set(str(reason))
    try:
        yield
    finally:
        _bulk_writes_reason.reset(token)


def _refuse(model, operation, *, hatch=True):
    if hatch and _bulk_writes_reason.get() is not None:
        return
    name = model._meta.object_name
    raise HistoryBypassRefused(
        f"{name}.objects.{operation} is refused: it would change {name} rows without a history row. "
        f"Use the service functions (accounts/services.py, cases/<domain>/services.py, workflows/services.py), "
        f"which save each object so that the history records who, when and why."
    )


class AuditedQuerySet(models.QuerySet):
    """A queryset that refuses the writes that skip history."""

    def update(self, **kwargs):
        _refuse(self.model, "update()")
        return super().update(**kwargs)

    update.alters_data = True

    def bulk_update(self, objs, fields, batch_size=None):
        _refuse(self.model, "bulk_update()")
        return super().bulk_update(objs, fields, batch_size=batch_size)

    bulk_update.alters_data = True

    def bulk_create(self, objs, *args, **kwargs):
        _refuse(self.model, "bulk_create()")
        return super().bulk_create(objs, *args, **kwargs)

    bulk_create.alters_data = True

    def delete(self):
        _refuse(self.model, "delete()", hatch=False)

    delete.alters_data = True
    delete.queryset_only = True


class AuditedManager(models.Manager.from_queryset(AuditedQuerySet)):
    """The default manager of audited models without a queryset of their own.
    Models with their own queryset derive it from AuditedQuerySet."""


class AuditedModel(models.Model):
    """The abstract base of every model with history: instances are never
    deleted (deactivate, end or withdraw them instead) and bulk writes are
    refused. ``base_manager_name`` makes Django's internal (base) manager the
    refusing one too, so ``related.add()``/``remove()`` cannot update rows
    behind history's back either."""

    objects = AuditedManager()

    class Meta:
        abstract = True
        base_manager_name = "objects"

    def delete(self, *args, **kwargs):
        _refuse(type(self), "delete() on an instance", hatch=False)


class AppendOnlyModel(AuditedModel):
    """An audit record that is only ever inserted (e.g. sign-in events).

    ``chain_hash`` is set by the database on insert: the SHA-256 of the
    previous row's hash and this row's content (see cases.audit). Existing
    rows cannot be saved again, and the database refuses UPDATE, DELETE and
    TRUNCATE on the table."""

    chain_hash = models.CharField(max_length=64, blank=True, default="", editable=False)

    class Meta:
        abstract = True
        base_manager_name = "objects"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise HistoryBypassRefused(f"{type(self)._meta.object_name} rows are append-only; they are never changed.")
        kwargs["force_insert"] = True
        return super().save(*args, **kwargs)
