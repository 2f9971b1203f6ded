"""Django's ``flush``, allowed past the append-only history tables.

Django's test machinery empties the database with this command (TRUNCATE of
every table) after each ``transaction=True`` test. History tables refuse
TRUNCATE, except in a maintenance session of a database superuser
(``samverkan.audit_maintenance``, see cases/audit/sql.py), which this command
opens around the flush. Run by any other role, the flush is refused.
"""

from django.core.management.commands import flush
from django.db import connections

from cases.audit.sql import maintenance_session


class Command(flush.Command):
    help = flush.Command.help + " History tables can only be flushed by a database superuser."

    def handle(self, **options):
        with maintenance_session(connections[options["database"]]):
            return super().handle(**options)
