from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "cases.audit"
    label = "audit"
    verbose_name = _("Audit trail")

    def ready(self):
        _reload_serialized_data_in_maintenance_session()


def _reload_serialized_data_in_maintenance_session():
    """Django's ``serialized_rollback=True`` tests reload the data the migrations
    created by saving every row again, history rows included. That is test
    machinery, like the flush: run it in a maintenance session (superusers
    only; see cases/audit/sql.py), where such an UPDATE leaves history rows as
    they are. The method is only ever called by Django's test framework."""
    from django.db.backends.base.creation import BaseDatabaseCreation

    from .sql import maintenance_session

    original = BaseDatabaseCreation.deserialize_db_from_string
    if getattr(original, "samverkan_audit", False):
        return

    def deserialize_db_from_string(self, data):
        with maintenance_session(self.connection):
            return original(self, data)

    deserialize_db_from_string.samverkan_audit = True
    BaseDatabaseCreation.deserialize_db_from_string = deserialize_db_from_string
