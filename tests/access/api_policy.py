"""Who may use each API endpoint (tests/access/test_api_walker.py walks them).

- ``docs``: the schema and its documentation pages, for anyone signed in or with a token;
- ``global``: lists scoped to the caller (organisations, plan periods, agreements, meetings);
- ``mora``: concerns one of Mora's objects: others' callers get 404 (403/405 for methods
  that are not there);
- ``mora_write``: a write on one of Mora's objects (POST only): others' callers get 403/404;
- ``mora_file``: the bytes of one of Mora's stored files (a document, an attachment):
  as ``mora``, but the answer to a reader is the file, not JSON;
- ``reader``: the global audit log: coordinators and auditors only."""

API_POLICY = {
    "api:schema": "docs",
    "api:docs": "docs",
    "api:organisations": "global",
    "api:plan_periods": "global",
    "api:plan_period": "global",
    "api:agreements": "global",
    "api:agreement": "mora",
    "api:agreement_revisions": "mora",
    "api:agreement_follow_ups": "mora",
    "api:agreement_open_steps": "mora",
    "api:agreement_events": "mora",
    "api:agreement_documents": "mora",
    "api:document_file": "mora_file",
    "api:attachment_file": "mora_file",
    "api:agreement_attachments": "mora_write",
    "api:agreement_decisions": "mora_write",
    "api:meetings": "global",
    "api:meeting": "mora",
    "api:audit_log": "reader",
}
