"""The global audit log: only auditors and coordinators read it; key-set
pagination returns every row exactly once across pages, newest first, also
when many rows of several tables share a timestamp; the filters return exactly
the matching rows; bad filter values get a message next to the field and 400."""

from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse
from django.utils.translation import gettext as _

from cases.audit.models import AuditExport
from tests.factories import current_period, municipality
from tests.workflows.helpers import login
from workflows.views import audit as audit_views

from .conftest import all_rows, both, by_kind, by_municipality, by_plan_period, by_time, by_user, rows_where
from .helpers import act_as, at, sv

pytestmark = pytest.mark.django_db

LOG = reverse("workflows:audit_log")
EXPORTS = (reverse("workflows:audit_export_csv"), reverse("workflows:audit_export_jsonl"))
# Some messages go on with this sentence (a separate string, so makemessages does not extract it).
AGAIN = " Start again from the first page."


def read_all_pages(client, params=None):
    """[(table, id, date)] of every row, following the "next page" links."""
    rows, query, pages = [], dict(params or {}), 0
    while True:
        response = client.get(LOG, query)
        assert response.status_code == 200, response.content.decode()[:3000]
        rows += [(r.table, r.history_id, r.history_date) for r in response.context["rows"]]
        pages += 1
        next_query = response.context["next_query"]
        if not next_query:
            return rows, pages
        assert f'href="?{next_query.replace("&", "&amp;")}"' in response.content.decode()
        query = {key: values[0] for key, values in parse_qs(next_query).items()}


def test_only_auditors_and_coordinators_read_the_log(client, county, auditor, coordinator, falun_head, mora_official):
    for user in (falun_head, mora_official):
        act_as(client, user)
        assert client.get(LOG).status_code == 403
        for url in EXPORTS:
            assert client.get(url).status_code == 403
        assert reverse("workflows:audit_log") not in client.get(reverse("workflows:agreements")).content.decode()
    assert not AuditExport.objects.exists()
    for user in (auditor, coordinator):
        act_as(client, user)
        assert client.get(LOG).status_code == 200
        assert f'href="{LOG}"' in client.get(reverse("workflows:agreements")).content.decode()  # in the menu
    client.logout()
    assert client.get(LOG).status_code == 302  # to the login page


def test_keyset_pages_return_every_row_once_newest_first(client, county, auditor, monkeypatch):
    monkeypatch.setattr(audit_views, "LOG_PAGE_SIZE", 7)
    act_as(client, auditor)
    expected = all_rows()
    rows, pages = read_all_pages(client)
    assert len(rows) == len(set(rows))  # no row twice
    assert {(table, i) for table, i, _when in rows} == expected  # and none left out
    assert pages == -(-len(expected) // 7)
    dates = [when for _table, _i, when in rows]
    assert dates == sorted(dates, reverse=True)
    # Ties were real: several pages end inside a run of rows with the same timestamp.
    assert len(set(dates)) < len(dates) / 3


def test_filters_return_exactly_the_matching_rows(client, county, auditor, coordinator, mora_head, monkeypatch):
    monkeypatch.setattr(audit_views, "LOG_PAGE_SIZE", 20)
    act_as(client, auditor)
    mora, falun = municipality("Mora"), municipality("Falun")
    day_two = (at(0, 0, day=3), at(0, 0, day=4))
    cases = [
        ({"user": mora_head.pk}, by_user(mora_head)),
        ({"kind": "cases.decision"}, by_kind("cases.decision")),
        ({"municipality": falun.pk}, by_municipality(falun)),
        ({"plan_period": current_period().pk}, by_plan_period(current_period())),
        (
            {"plan_period": current_period().pk, "kind": "cases.planpriority"},
            both(by_plan_period(current_period()), by_kind("cases.planpriority")),
        ),
        ({"date_from": "2026-03-03", "date_to": "2026-03-03"}, by_time(*day_two)),
        ({"date_from": "2026-03-03"}, by_time(day_two[0], at(0, 0, year=2100))),
        (
            {"municipality": mora.pk, "kind": "cases.collaborationarea", "user": coordinator.pk},
            both(by_municipality(mora), by_kind("cases.collaborationarea"), by_user(coordinator)),
        ),
        (
            {"municipality": mora.pk, "date_to": "2026-03-02"},
            both(by_municipality(mora), by_time(at(0, 0, year=2000), day_two[0])),
        ),
    ]
    for params, lookup in cases:
        expected = rows_where(lookup)
        assert expected, params  # each case selects something
        rows, _pages = read_all_pages(client, params)
        assert len(rows) == len(set(rows)), params
        assert {(table, i) for table, i, _when in rows} == expected, params


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"date_from": "2026-03-05", "date_to": "2026-03-01"}, "date_to", "The end date is before the start date."),
        ({"kind": "foo"}, "kind", "Choose a kind from the list."),
        ({"municipality": "abc"}, "municipality", "Choose a municipality from the list."),
        ({"municipality": "999999"}, "municipality", "Choose a municipality from the list."),
        ({"plan_period": "x"}, "plan_period", "Choose a plan period from the list."),
        ({"user": "-1"}, "user", "Choose a person from the list."),
        ({"date_from": "2026-02-30"}, "date_from", "Write the date as YYYY-MM-DD."),
        ({"after": "garbage"}, "after", "The page link is not valid. Start again from the first page."),
        ({"after": "2026-03-02T09:00:00+01:00~cases.nothing~3"}, "after", "The page link is not valid."),
    ],
)
def test_bad_filter_values_get_a_message_next_to_the_field(client, auditor, params, field, message):
    login(client, auditor)
    for url in (LOG, *EXPORTS):
        response = client.get(url, params)
        assert response.status_code == 400, (url, params)
        assert response.context["form"].errors.keys() == {field}
        page = response.content.decode()
        assert sv(lambda m=message: _(m)) in page or sv(lambda m=message + AGAIN: _(m)) in page
        if field != "after":  # the page cursor is not a visible field; its message is at the top
            assert f'id="id_{field}_error"' in page
    assert not AuditExport.objects.exists()  # a refused export is not an export


def test_the_pages_link_back_to_the_first_and_carry_the_filters(client, county, auditor, monkeypatch):
    monkeypatch.setattr(audit_views, "LOG_PAGE_SIZE", 5)
    act_as(client, auditor)
    first = client.get(LOG, {"kind": "cases.agreement"})
    next_query = first.context["next_query"]
    assert parse_qs(next_query)["kind"] == ["cases.agreement"]
    second = client.get(f"{LOG}?{next_query}")
    assert second.status_code == 200
    assert 'href="?kind=cases.agreement"' in second.content.decode()  # the first page
    assert f"{EXPORTS[0]}?kind=cases.agreement" in second.content.decode()  # exports take the filters, not the page
    assert urlparse(EXPORTS[0]).path.endswith("export.csv")
