"""The audit trail's database side (Django app "cases.audit", label "audit").

- ``sql``: the SQL of the append-only triggers and the hash chain (database
  time, fixed search paths, the superuser-only maintenance and keep-time
  sessions), generated per table;
- ``operations``: ``InstallAuditFunctions`` and ``InstallAuditTriggers``, the
  migration operations (one line protects a new history table);
- ``tables``: which tables must be protected (every simple-history model,
  many-to-many history included, and every ``AppendOnlyModel``) and which
  lack their triggers;
- ``live``: every live row against its latest history row;
- ``checkpoints``: chain heads signed with an Ed25519 key outside the
  database (``sign_checkpoint()``, ``manage.py audit_checkpoint``);
- ``verify``: all of it behind ``manage.py verify_audit``;
- ``roles``: the owner and application roles (``manage.py setup_database_roles``);
- ``management/commands/flush.py``: Django's flush inside a superuser's
  maintenance session, so that ``transaction=True`` tests can empty the database.

The code-level half (querysets that refuse bulk writes and deletion) lives in
``accounts.audited_models``, the lowest layer.
"""
