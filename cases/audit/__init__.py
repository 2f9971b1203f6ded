"""The audit trail's database side (Django app "cases.audit", label "audit").

- ``sql``: the SQL of the append-only triggers and the hash chain, generated
  per table, and the maintenance session of the test flush;
- ``operations``: ``InstallAuditFunctions`` and ``InstallAuditTriggers``, the
  migration operations (one line protects a new history table);
- ``tables``: which tables must be protected (every simple-history model and
  every ``AppendOnlyModel``) and which lack their triggers;
- ``verify``: the chain verification behind ``manage.py verify_audit``;
- ``management/commands/flush.py``: Django's flush inside a superuser's
  maintenance session, so that ``transaction=True`` tests can empty the database.

The code-level half (querysets that refuse bulk writes and deletion) lives in
``accounts.audited_models``, the lowest layer.
"""
