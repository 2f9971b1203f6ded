"""Full-text search reads a stored tsvector instead of rebuilding it from the text.

Each searched table gets a column ``search_vector``, GENERATED ALWAYS AS the
very document of cases/search/vectors.py (to_tsvector with an explicit
configuration is immutable, the unaccent dictionary included) and STORED, so
PostgreSQL keeps it up to date on every insert and update, and a GIN index on
it; the GIN indexes on the expressions (0008) go. A search then filters and
ranks on the stored vector: a cultural head's common word ("kultur") used to
rebuild the vector of every area of the municipality twice (the match, then
ts_rank), see README › Performance › Search.

The column is the database's, not a model field: the models, their history
tables (simple-history copies model fields only), the audit chain (on the
history tables) and the SQLite demo never see it. On SQLite nothing happens
here; search there falls back to plain matching (cases.search.selectors)."""

from django.db import migrations

from cases.search.operations import PostgreSQLRemoveIndex, PostgreSQLRunSQL

# table: the document, exactly as cases/search/vectors.py builds it.
DOCUMENTS = {
    "cases_agreement": (
        "setweight(to_tsvector('sv_unaccent'::regconfig, COALESCE(case_number, '') || ' ' || COALESCE(title, '')), 'A')"
    ),
    "cases_collaborationarea": (
        "setweight(to_tsvector('sv_unaccent'::regconfig, COALESCE(title, '')), 'A')"
        " || setweight(to_tsvector('sv_unaccent'::regconfig, COALESCE(goal, '')), 'B')"
        " || setweight(to_tsvector('sv_unaccent'::regconfig,"
        " COALESCE(region_commitment, '') || ' ' || COALESCE(municipality_commitment, '')), 'C')"
        " || setweight(to_tsvector('sv_unaccent'::regconfig, COALESCE(contacts, '')), 'D')"
    ),
    "cases_reviewcomment": "setweight(to_tsvector('sv_unaccent'::regconfig, COALESCE(text, '')), 'B')",
    "cases_followup": "setweight(to_tsvector('sv_unaccent'::regconfig, COALESCE(review_comment, '')), 'B')",
    "cases_followupentry": "setweight(to_tsvector('sv_unaccent'::regconfig, COALESCE(narrative, '')), 'B')",
    "cases_dialoguemeeting": (
        "setweight(to_tsvector('sv_unaccent'::regconfig, COALESCE(place, '')), 'A')"
        " || setweight(to_tsvector('sv_unaccent'::regconfig, COALESCE(minutes, '')), 'B')"
    ),
    "cases_actionpoint": (
        "setweight(to_tsvector('sv_unaccent'::regconfig,"
        " COALESCE(description, '') || ' ' || COALESCE(owner_name, '')), 'B')"
    ),
}
# The expression indexes of 0008 that the stored columns replace: (model, index name).
EXPRESSION_INDEXES = [
    ("agreement", "agreement_search"),
    ("collaborationarea", "area_search"),
    ("reviewcomment", "review_comment_search"),
    ("followup", "follow_up_search"),
    ("followupentry", "follow_up_entry_search"),
    ("dialoguemeeting", "dialogue_meeting_search"),
    ("actionpoint", "action_point_search"),
]


def _stored_vector(table, document):
    return PostgreSQLRunSQL(
        f"ALTER TABLE {table} ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ({document}) STORED;"
        f" CREATE INDEX {table}_search_vector ON {table} USING gin (search_vector);",
        f"DROP INDEX IF EXISTS {table}_search_vector; ALTER TABLE {table} DROP COLUMN IF EXISTS search_vector;",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0013_signed_agreement"),
    ]

    operations = [
        *(_stored_vector(table, document) for table, document in DOCUMENTS.items()),
        *(PostgreSQLRemoveIndex(model_name=model, name=name) for model, name in EXPRESSION_INDEXES),
    ]
