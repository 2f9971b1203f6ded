"""The text-search documents of what can be found. PostgreSQL stores each
table's document in a generated column with a GIN index (migration
cases/0014_stored_search_vectors, which spells these expressions out in SQL;
tests/search pins the two together) and the selectors read it through
``StoredVector``; the functions below say what the document is, and remain
the expressions for anything that has no stored column.

CONFIG is the text-search configuration made by migration
cases/0008_full_text_search: PostgreSQL's Swedish stemmer behind the unaccent
dictionary, so "borlange" finds Borlänge and "rattvik" finds Rättvik, and
ts_headline marks the words as they are written (with their accents)."""

from django.contrib.postgres.search import SearchQuery, SearchVector, SearchVectorField
from django.db.models import Expression
from django.db.models.expressions import Col

CONFIG = "sv_unaccent"
# Each searched table's document, stored by PostgreSQL (a generated column; migration
# cases/0014_stored_search_vectors, which spells out the functions below in SQL) with a GIN index.
STORED_COLUMN = "search_vector"


def agreement_document():
    return SearchVector("case_number", "title", config=CONFIG, weight="A")


def area_document():
    return (
        SearchVector("title", config=CONFIG, weight="A")
        + SearchVector("goal", config=CONFIG, weight="B")
        + SearchVector("region_commitment", "municipality_commitment", config=CONFIG, weight="C")
        + SearchVector("contacts", config=CONFIG, weight="D")
    )


def comment_document():
    return SearchVector("text", config=CONFIG, weight="B")


def follow_up_entry_document():
    return SearchVector("narrative", config=CONFIG, weight="B")


def follow_up_document():
    return SearchVector("review_comment", config=CONFIG, weight="B")


def meeting_document():
    return SearchVector("place", config=CONFIG, weight="A") + SearchVector("minutes", config=CONFIG, weight="B")


def action_point_document():
    return SearchVector("description", "owner_name", config=CONFIG, weight="B")


def organisation_document():
    return SearchVector("name", config=CONFIG)


def search_query(text):
    """The user's words as a query: web-search syntax ("quoted phrases", or, -not)."""
    return SearchQuery(text, search_type="websearch", config=CONFIG)


class StoredVector(Expression):
    """The stored document of ``model``'s table (the column STORED_COLUMN, which
    the database keeps and the model does not know), in whatever query and
    under whatever alias the table gets (a subquery's tables are renamed)."""

    output_field = SearchVectorField()

    def __init__(self, model):
        super().__init__()
        self.model = model

    def resolve_expression(self, query=None, allow_joins=True, reuse=None, summarize=False, for_save=False):
        column = SearchVectorField()
        column.set_attributes_from_name(STORED_COLUMN)
        column.model = self.model
        return Col(query.get_initial_alias(), column, output_field=SearchVectorField())
