"""The text-search documents of what can be found, written once: the models'
GIN indexes (Meta.indexes) and the search selectors use these very
expressions, so PostgreSQL answers a search from the index.

CONFIG is the text-search configuration made by migration
cases/0008_full_text_search: PostgreSQL's Swedish stemmer behind the unaccent
dictionary, so "borlange" finds Borlänge and "rattvik" finds Rättvik, and
ts_headline marks the words as they are written (with their accents)."""

from django.contrib.postgres.search import SearchQuery, SearchVector

CONFIG = "sv_unaccent"


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
