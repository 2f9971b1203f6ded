import os

import pytest
from django.db import connection

from accounts.models import Role
from cases.models import Stage
from tests.factories import agreement_in_stage, user_with_role


def pdf_bytes(size):
    """A PDF-looking file of ``size`` bytes (random after the header: incompressible, like most uploads)."""
    head = b"%PDF-1.4\n"
    return head + os.urandom(size - len(head))


def run_sql(statement, params=None):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else None


def damage_chunk(digest, seq=0):
    """What a failing disk, a bad restore or a superuser could do: change stored
    bytes behind the application's back (the append-only trigger switched off)."""
    run_sql("SET CONSTRAINTS ALL IMMEDIATE")
    run_sql("ALTER TABLE storage_storedfilechunk DISABLE TRIGGER samverkan_audit_append_only")
    run_sql(
        "UPDATE storage_storedfilechunk SET data = overlay(data placing '\\x00'::bytea from 20 for 1) "
        "WHERE sha256 = %s AND seq = %s",
        [digest, seq],
    )
    run_sql("ALTER TABLE storage_storedfilechunk ENABLE TRIGGER samverkan_audit_append_only")


@pytest.fixture
def mora_agreement(coordinator, mora_head):
    return agreement_in_stage(Stage.SIGNING, "Mora", coordinator=coordinator, head=mora_head)


@pytest.fixture
def mora_auditor(db):
    return user_with_role(Role.AUDITOR, full_name="Erik Revisor")
