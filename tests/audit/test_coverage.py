"""Every history table is protected, and a new one that is not is reported.

If this fails after you added a model with history: add
``InstallAuditTriggers("<app>", "historical<model>")`` to a migration of your
app (depending on ("audit", "0001_audit_functions")), and make the model
inherit accounts.audited_models.AuditedModel. See cases/audit/operations.py.
"""

import pytest
from django.apps import apps
from django.db import connection
from simple_history.models import HistoricalChanges

from accounts.audited_models import AuditedModel, AuditedQuerySet
from cases.audit.tables import missing_protection, protected_tables

from .conftest import run_sql, verify

pytestmark = pytest.mark.django_db


def test_every_history_table_has_its_triggers(db):
    """Straight from pg_trigger: each table of a simple-history model (and of
    each append-only model) has the append-only triggers, enabled, and the
    chain trigger when it has a hash column."""
    triggers = {}
    for table, name, enabled in run_sql(
        "SELECT c.relname, t.tgname, t.tgenabled FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "WHERE NOT t.tgisinternal"
    ):
        triggers.setdefault(table, {})[name] = enabled
    missing = []
    for table in protected_tables():
        wanted = {"samverkan_audit_append_only", "samverkan_audit_no_truncate"}
        if table.hash_column:
            wanted.add("samverkan_audit_chain")
        present = {name for name, enabled in triggers.get(table.table, {}).items() if enabled != "D"}
        if wanted - present:
            missing.append(f"{table.label} ({table.table}): {sorted(wanted - present)}")
    assert not missing, "History tables without audit protection (add InstallAuditTriggers): " + ", ".join(missing)


def test_every_historical_model_is_on_the_list(db):
    historical = {m._meta.db_table for m in apps.get_models() if issubclass(m, HistoricalChanges)}
    assert historical
    assert historical <= {t.table for t in protected_tables()}


def test_every_model_with_history_refuses_bulk_writes(db):
    """A model with audited history inherits AuditedModel, so that its
    querysets cannot write around history."""
    with_history = [m for m in apps.get_models() if hasattr(m._meta, "simple_history_manager_attribute")]
    assert len(with_history) >= 13
    lacking = sorted(m._meta.label for m in with_history if not issubclass(m, AuditedModel))
    assert not lacking, f"Models with history that do not inherit accounts.audited_models.AuditedModel: {lacking}"
    # ...and keep querysets derived from AuditedQuerySet on their default and base managers.
    lacking = sorted(
        m._meta.label
        for m in with_history
        if not isinstance(m._default_manager.all(), AuditedQuerySet)
        or not isinstance(m._base_manager.all(), AuditedQuerySet)
    )
    assert not lacking, f"Models with history whose managers do not refuse bulk writes: {lacking}"


def test_a_table_without_triggers_is_reported(db):
    run_sql("DROP TRIGGER samverkan_audit_no_truncate ON cases_historicaldecision")
    run_sql("ALTER TABLE cases_historicalsignature DISABLE TRIGGER samverkan_audit_append_only")

    problems = {table.table: issues for table, issues in missing_protection(connection)}
    assert problems == {
        "cases_historicaldecision": ["trigger samverkan_audit_no_truncate is missing"],
        "cases_historicalsignature": ["trigger samverkan_audit_append_only is disabled"],
    }
    code, _out, err = verify()
    assert code == 1
    assert "UNPROTECTED cases_historicaldecision: trigger samverkan_audit_no_truncate is missing" in err
    assert "UNPROTECTED cases_historicalsignature" in err
