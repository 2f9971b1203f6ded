"""Query budgets: every list page, the agreement page, its timeline, the audit
log, the county overview and the CSV exports make the same number of queries
whether they show one row or fifty, and never more than 15 — as the users who
see them (a coordinator for the lists of everything, a municipal cultural head
for their own municipality).

The rows are written by the load-data generator into the test's transaction.
Each page is requested once to warm per-process caches (content types,
translations), then counted with one row, then with fifty.

A page that is not there yet is skipped, naming its URL, and is counted from
the day it lands."""

from collections import Counter

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse

from cases.models import Decision, Party
from tests.perf.conftest import at, instances_built

pytestmark = pytest.mark.django_db
BUDGET = 15
AGREEMENT_PAGE_BUDGET = 8  # (17 until #20)
R, M = Party.REGION, Party.MUNICIPALITY
APPROVED = Decision.Outcome.APPROVED


def url(name, *args, query=""):
    try:
        path = reverse(f"workflows:{name}", args=args)
    except NoReverseMatch:
        pytest.skip(f"The page workflows:{name} does not exist yet; its budget is checked once it lands.")
    return f"{path}?{query}" if query else path


def count(client, path, instances=None):
    """The queries of one GET of ``path`` (a streamed body is read to the end);
    the model instances it built are counted into ``instances`` (a Counter)."""
    with CaptureQueriesContext(connection) as queries, instances_built() as built:
        response = client.get(path)
        body = b"".join(response.streaming_content) if response.streaming else response.content
    assert response.status_code == 200, (path, response.status_code, body[:500])
    if instances is not None:
        instances.update(built)
    return len(queries), body.decode(), [q["sql"] for q in queries.captured_queries]


def assert_same_budget(client, path, grow, *, expect=None, django_assert_max_num_queries=None, rows_as_values=True):
    """Count ``path`` with what is there, then after ``grow()``; equal, and within
    budget. With ``rows_as_values`` (every list, #20), the page must also build the
    same model instances with one row as with fifty: its rows are plain values."""
    count(client, path)  # warm-up
    built_one, built_many = Counter(), Counter()
    one, body_one, sql_one = count(client, path, built_one)
    grow()
    with django_assert_max_num_queries(BUDGET):
        many, body_many, sql_many = count(client, path, built_many)
    if expect is not None:
        expect(body_one, body_many)
    assert one == many, "\n".join(["with one row:", *sql_one, "", "with many rows:", *sql_many])
    assert many <= BUDGET, "\n".join(sql_many)
    if rows_as_values:
        assert built_one == built_many, f"model instances with one row: {built_one}; with many: {built_many}"
    return one


# ---------------------------------------------------------------------------
# Lists of steps
# ---------------------------------------------------------------------------


def test_inbox_of_a_coordinator(client, load, django_assert_max_num_queries):
    load.agreements("drafting", 1)
    client.force_login(load.coordinator)

    def expect(one, many):
        assert "Ett steg väntar på dig." in one
        assert "50 steg väntar på dig." in many

    assert_same_budget(
        client,
        url("inbox"),
        lambda: load.agreements("drafting", 49),
        expect=expect,
        django_assert_max_num_queries=django_assert_max_num_queries,
    )


def test_inbox_of_a_cultural_head(client, load, django_assert_max_num_queries):
    """A head has at most one live agreement per plan period: one step against two,
    and the start page's own overview with nothing, then with an agreement in force."""
    municipality = load.municipality(0)
    load.scripted(REVIEW_ONLY, municipality=municipality, period="2027–2030")
    client.force_login(load.head_of(municipality))

    def expect(one, many):
        assert "Ett steg väntar på dig." in one
        assert "2 steg väntar på dig." in many

    assert_same_budget(
        client,
        url("inbox"),
        lambda: load.scripted(SMALL_IN_FORCE[:-1], municipality=municipality),
        expect=expect,
        django_assert_max_num_queries=django_assert_max_num_queries,
    )


def test_queue(client, load, django_assert_max_num_queries):
    load.agreements("approval", 1)
    client.force_login(load.coordinator)

    def grow():
        for kind, n in (("drafting", 10), ("review", 10), ("approval", 9), ("signing", 10), ("in_force", 10)):
            load.agreements(kind, n)

    assert_same_budget(client, url("queue"), grow, django_assert_max_num_queries=django_assert_max_num_queries)


def test_archive_of_a_coordinator(client, load, django_assert_max_num_queries):
    load.agreements("review", 1)
    client.force_login(load.coordinator)
    assert_same_budget(
        client,
        url("archive"),
        lambda: load.agreements("signing", 49),
        django_assert_max_num_queries=django_assert_max_num_queries,
    )


def test_archive_of_a_cultural_head(client, load, django_assert_max_num_queries):
    municipality = load.municipality(0)
    load.agreements("withdrawn_after_changes", 1, municipality=municipality)
    client.force_login(load.head_of(municipality))
    assert_same_budget(
        client,
        url("archive"),
        lambda: load.agreements("withdrawn_after_changes", 49, municipality=municipality),
        django_assert_max_num_queries=django_assert_max_num_queries,
    )


# ---------------------------------------------------------------------------
# Agreements
# ---------------------------------------------------------------------------


def test_agreement_list_of_a_coordinator(client, load, django_assert_max_num_queries):
    load.agreements("in_force", 1)
    client.force_login(load.coordinator)

    def grow():
        for kind, n in (("drafting", 10), ("review", 10), ("approval", 10), ("signing", 9), ("in_force", 10)):
            load.agreements(kind, n)

    assert_same_budget(client, url("agreements"), grow, django_assert_max_num_queries=django_assert_max_num_queries)


def test_agreement_list_of_a_cultural_head(client, load, django_assert_max_num_queries):
    municipality = load.municipality(0)
    load.agreements("withdrawn_review", 1, municipality=municipality)
    client.force_login(load.head_of(municipality))
    assert_same_budget(
        client,
        url("agreements"),
        lambda: load.agreements("withdrawn_approval", 49, municipality=municipality),
        django_assert_max_num_queries=django_assert_max_num_queries,
    )


def test_agreement_list_filtered_by_overdue(client, load, django_assert_max_num_queries):
    load.agreements("review", 1)
    client.force_login(load.coordinator)
    assert_same_budget(
        client,
        url("agreements", query="overdue=on&plan_period=" + str(load.periods["2023–2026"].pk)),
        lambda: load.agreements("review", 49),
        django_assert_max_num_queries=django_assert_max_num_queries,
    )


# An agreement with one of everything (area, decision per party, signature per party,
# revision, follow-up and entry, open step), and one with many of everything.
SMALL_IN_FORCE = [
    (at(2026, 1, 10), "open"),
    (at(2026, 1, 11), "draft", 1),
    (at(2026, 1, 12), "submit"),
    (at(2026, 1, 15), "review", False, False),
    (at(2026, 1, 18), "submit"),
    (at(2026, 1, 20), "review", True, False),
    (at(2026, 2, 1), "decide", R, APPROVED, False),
    (at(2026, 2, 2), "decide", M, APPROVED, False),
    (at(2026, 2, 9), "sign", R),
    (at(2026, 2, 10), "sign", M),
    (at(2026, 10, 1, 6), "fire", 2026),
    (at(2026, 10, 9), "write", True, "Det går bra."),
]
LARGE_IN_FORCE = [
    (at(2023, 1, 10), "open"),
    (at(2023, 1, 11), "draft", 8),
    (at(2023, 1, 12), "edit", 3),
    (at(2023, 1, 13), "submit"),
    (at(2023, 1, 16), "review", False, True),
    (at(2023, 1, 18), "edit", 2),
    (at(2023, 1, 19), "submit"),
    (at(2023, 1, 25), "review", True, False),
    (at(2023, 2, 1), "decide", R, Decision.Outcome.RETURNED, False),
    (at(2023, 2, 3), "submit"),
    (at(2023, 2, 6), "review", True, False),
    (at(2023, 3, 1), "decide", M, APPROVED, False),
    (at(2023, 3, 2), "decide", R, APPROVED, False),
    (at(2023, 3, 9), "sign", M),
    (at(2023, 3, 10), "sign", R),
    (at(2023, 10, 1, 6), "fire", 2023),
    (at(2023, 10, 9), "write", True, "Vi har börjat."),
    (at(2023, 10, 20), "review_fu", False),
    (at(2023, 10, 25), "write", True, "Nu har vi kommit igång."),
    (at(2023, 10, 30), "review_fu", True),
    (at(2024, 10, 1, 6), "fire", 2024),
    (at(2024, 10, 9), "write", True, "Det går bra."),
    (at(2024, 10, 20), "review_fu", True),
    (at(2025, 10, 1, 6), "fire", 2025),
    (at(2025, 10, 9), "write", True, "Det går fortfarande bra."),
    (at(2025, 10, 20), "review_fu", True),
    (at(2026, 10, 1, 6), "fire", 2026),
    (at(2026, 10, 9), "write", True, "Klart."),
]
REVIEW_ONLY = [(at(2026, 6, 1), "open"), (at(2026, 6, 2), "draft", 1), (at(2026, 6, 3), "submit")]


def _small_and_large(client, load, name, as_head):
    """Query counts of page ``name`` for the small and the large agreement."""
    small = load.scripted(SMALL_IN_FORCE, municipality=load.municipality(1))
    large = load.scripted(LARGE_IN_FORCE, municipality=load.municipality(2))
    assert large.areas.count() == 8 and large.follow_ups.count() == 4 and small.areas.count() == 1
    counts = []
    for agreement in (small, large):
        client.force_login(load.head_of(agreement.municipality) if as_head else load.coordinator)
        path = url(name, agreement.pk)
        count(client, path)  # warm-up
        counts.append(count(client, path))
    (one, _b1, sql_one), (many, _b2, sql_many) = counts
    assert one == many, "\n".join(["small:", *sql_one, "", "large:", *sql_many])
    return many, sql_many


@pytest.mark.parametrize("as_head", [False, True], ids=["coordinator", "cultural head"])
def test_agreement_page(client, load, as_head):
    many, sql = _small_and_large(client, load, "agreement", as_head)
    # Since #20: the request's own three, the agreement, every list of it in one more
    # (areas, decisions, documents, signatures, attachments, comments, follow-ups with
    # their entries, the signed agreement's production: JSON arrays of one row), its
    # steps, and the dialogue's meetings and action points. Until then 17.
    assert many <= AGREEMENT_PAGE_BUDGET, "\n".join(sql)


@pytest.mark.parametrize("as_head", [False, True], ids=["coordinator", "cultural head"])
def test_timeline(client, load, as_head):
    many, sql = _small_and_large(client, load, "agreement_timeline", as_head)
    assert many <= BUDGET, "\n".join(sql)


# ---------------------------------------------------------------------------
# The audit log and its export
# ---------------------------------------------------------------------------


def test_audit_log(client, load, django_assert_max_num_queries):
    """Filtered to one municipality's agreement rows: one agreement's (opened, withdrawn), then a full page."""
    municipality = load.municipality(0)
    load.agreements("withdrawn_drafting", 1, municipality=municipality)
    client.force_login(load.coordinator)

    def expect(one, many):
        assert one.count("<tr>") == 1 + 2  # the header and two rows
        assert many.count("<tr>") == 1 + 50  # the header and a full page

    assert_same_budget(
        client,
        url("audit_log", query=f"municipality={municipality.pk}&kind=cases.agreement"),
        lambda: load.agreements("withdrawn_review", 49, municipality=municipality),
        expect=expect,
        django_assert_max_num_queries=django_assert_max_num_queries,
    )


def test_audit_log_unfiltered(client, load, django_assert_max_num_queries):
    load.agreements("drafting", 1)
    client.force_login(load.coordinator)
    assert_same_budget(
        client,
        url("audit_log"),
        lambda: load.agreements("in_force", 20),
        django_assert_max_num_queries=django_assert_max_num_queries,
    )


def test_audit_export_csv(client, load, django_assert_max_num_queries):
    municipality = load.municipality(0)
    load.agreements("withdrawn_drafting", 1, municipality=municipality)
    client.force_login(load.coordinator)

    def expect(one, many):
        assert len(many.splitlines()) > 50 > len(one.splitlines())

    assert_same_budget(
        client,
        url("audit_export_csv", query=f"municipality={municipality.pk}"),
        lambda: load.agreements("withdrawn_after_changes", 49, municipality=municipality),
        expect=expect,
        django_assert_max_num_queries=django_assert_max_num_queries,
    )


# ---------------------------------------------------------------------------
# The county overview and its export
# ---------------------------------------------------------------------------


def _grow_county(load):
    for kind, n in (("in_force", 20), ("signing", 10), ("approval", 9), ("review", 10)):
        load.agreements(kind, n)


@pytest.mark.parametrize("name", ["county", "county_csv"])
def test_county_overview_of_a_coordinator(client, load, name, django_assert_max_num_queries):
    load.agreements("in_force", 1)
    client.force_login(load.coordinator)
    assert_same_budget(
        client, url(name), lambda: _grow_county(load), django_assert_max_num_queries=django_assert_max_num_queries
    )


@pytest.mark.parametrize("name", ["county", "county_csv"])
def test_county_overview_of_a_cultural_head(client, load, name, django_assert_max_num_queries):
    municipality = load.municipality(0)
    load.agreements("withdrawn_review", 1, municipality=municipality)
    client.force_login(load.head_of(municipality))

    def grow():
        load.scripted(LARGE_IN_FORCE, municipality=municipality)

    assert_same_budget(client, url(name), grow, django_assert_max_num_queries=django_assert_max_num_queries)
