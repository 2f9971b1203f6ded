"""The layout in a real browser at a desktop width (1280 px) and a phone's
(390 px): no page scrolls sideways (inbox, agreement page, county page, the
accessibility statement), the header fits on one line at 1280 px, the footer
names the organisation and a contact and links to the accessibility
statement, and axe-core finds no violation of any impact. Screenshots are
kept under test-artifacts/screenshots/layout-*.png."""

import pytest
from django.urls import reverse

from cases.models import Stage
from tests.factories import agreement_in_stage

from .helpers import describe

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

WIDTHS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


def widths(page):
    return page.evaluate("() => ({page: document.documentElement.scrollWidth, window: window.innerWidth})")


def header_lines(page):
    """How many lines the header takes: its tools (the brand, the search, the
    user's menu or the language choice) and its menu's items, each group
    counted on its own; items whose middles lie within half a line of each
    other are on one line. The menu has a row of its own: (tools, menu)."""
    return tuple(
        page.evaluate(
            """(selectors) => {
            const bar = document.querySelector('header.site .bar');
            const items = selectors.flatMap(s => [...bar.querySelectorAll(s)]);
            const middles = items.map(el => { const r = el.getBoundingClientRect(); return (r.top + r.bottom) / 2; });
            const lines = [];
            for (const middle of middles.sort((a, b) => a - b)) {
                if (!lines.length || middle - lines[lines.length - 1] > 12) lines.push(middle);
            }
            return lines.length;
        }""",
            selectors,
        )
        for selectors in (
            [":scope > .brand", ":scope > .site-search", ":scope > .user-menu", ":scope > .lang-form"],
            ["nav > ul > li"],
        )
    )


@pytest.mark.parametrize("device", list(WIDTHS))
def test_pages_fit_the_screen_and_pass_axe(
    context_for, live_server, axe_scan, screenshot, coordinator, mora_head, device
):
    mora = agreement_in_stage(Stage.IN_FORCE, "Mora", coordinator=coordinator, head=mora_head)
    agreement_in_stage(Stage.REVIEW, "Falun", coordinator=coordinator)
    agreement_in_stage(Stage.APPROVAL, "Ludvika", coordinator=coordinator)
    page = context_for(coordinator, viewport=WIDTHS[device]).new_page()
    pages = {
        "inbox": reverse("workflows:inbox"),
        "agreement": reverse("workflows:agreement", args=[mora.pk]),
        "county": reverse("workflows:county"),
        "accessibility": reverse("accessibility"),
    }
    problems = []
    for name, path in pages.items():
        response = page.goto(live_server.url + path)
        assert response.status == 200, (name, response.status)
        screenshot(page, f"layout-{name}-{device}")
        measured = widths(page)
        if measured["page"] > measured["window"]:
            problems.append(f"{name}: the page is {measured['page']} px wide in a {measured['window']} px window")
        violations = axe_scan(page)
        if violations:
            problems.append(f"{name}: {describe(violations)}")
        if device == "desktop" and header_lines(page) != (1, 1):
            problems.append(f"{name}: the header's tools and menu take {header_lines(page)} lines at 1280 px")
    assert not problems, "\n".join(problems)


def test_the_footer_leads_to_the_accessibility_statement(page, live_server, axe_scan):
    page.goto(live_server.url + reverse("login"))
    footer = page.locator("footer")
    assert "Region Dalarna" in footer.inner_text()
    assert footer.get_by_role("link", name="samverkan@regiondalarna.se").count() == 1
    footer.get_by_role("link", name="Tillgänglighetsredogörelse").click()
    page.wait_for_load_state()
    assert page.inner_text("h1") == "Tillgänglighetsredogörelse"
    assert "Digg" in page.inner_text("main")
    assert not axe_scan(page)
