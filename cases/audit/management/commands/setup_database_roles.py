"""python manage.py setup_database_roles [--owner samverkan_owner] [--app samverkan_app]

Run as a database superuser, against the application's database:

    DATABASE_URL=postgres://postgres@db/samverkan python manage.py setup_database_roles

Creates (or corrects) the owner role that runs the migrations and the
application role with exactly the grants it needs (cases/audit/roles.py,
README › The audit trail). Idempotent: run it before the first migration and
after each one. Exits non-zero when the application role is still unsafe.
Passwords are not handled here: give each role one with ``\\password`` in psql
(or use certificates).
"""

import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from cases.audit.roles import setup_roles


class Command(BaseCommand):
    help = "Create the database owner and application roles with the grants the audit trail relies on (superuser)."

    def add_arguments(self, parser):
        parser.add_argument("--owner", default="samverkan_owner", help="The owner role (default samverkan_owner).")
        parser.add_argument("--app", default="samverkan_app", help="The application role (default samverkan_app).")
        parser.add_argument("--database", default="default", help="The database alias (default: default).")

    def handle(self, *args, owner, app, database, **options):
        connection = connections[database]
        if connection.vendor != "postgresql":
            raise CommandError("Database roles exist on PostgreSQL only.")
        try:
            problems = setup_roles(connection, owner=owner, app=app, log=self.stdout.write)
        except (PermissionError, ValueError) as error:
            raise CommandError(str(error)) from error
        if problems:
            sys.exit(1)
