"""The pictures and the search of #18 in a real browser, at 1280 px and at
390 px: axe-core finds no violation of any impact on the pages that show them,
each picture fits the window (no sideways scrolling because of it), and each is
saved as a screenshot (test-artifacts/screenshots/pictures-*.png)."""

import pytest
from django.urls import reverse

from cases.models import FollowUp, FollowUpEntry, Stage
from tests.factories import agreement_in_stage

from .helpers import describe

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def fits(page, selector):
    """The element's right edge lies within the window."""
    return page.evaluate(
        "s => { const r = document.querySelector(s).getBoundingClientRect();"
        " return r.right <= document.documentElement.clientWidth + 1; }",
        selector,
    )


@pytest.mark.parametrize("size", WIDTHS)
def test_pictures_and_search(
    browser, context_for, live_server, axe_scan, screenshot, coordinator, falun_head, mora_head, size
):
    falun = agreement_in_stage(Stage.REVIEW, "Falun", coordinator=coordinator, head=falun_head)
    mora = agreement_in_stage(Stage.IN_FORCE, "Mora", coordinator=coordinator, head=mora_head)
    area = mora.active_areas().first()
    for year, progress in ((2024, FollowUpEntry.Progress.ON_TRACK), (2025, FollowUpEntry.Progress.DELAYED)):
        follow_up = FollowUp.objects.create(agreement=mora, year=year, status=FollowUp.Status.ACCEPTED)
        FollowUpEntry.objects.create(follow_up=follow_up, area=area, progress=progress, narrative="Körsång i Rättvik")
    page = context_for(coordinator, viewport=WIDTHS[size]).new_page()
    pages = {
        "agreement": (reverse("workflows:agreement", args=[falun.pk]), ".process-map svg"),
        "county": (reverse("workflows:county"), ".tilemap"),
        "coverage": (reverse("workflows:coverage"), ".trend svg"),
        "search": (reverse("workflows:search") + "?q=rattvik", "ol.search-results"),
    }
    for name, (path, picture) in pages.items():
        page.goto(live_server.url + path)
        page.locator(picture).first.wait_for()
        screenshot(page, f"pictures-{name}-{size}")
        assert fits(page, picture), f"{name}: {picture} is wider than the window at {size}"
        violations = axe_scan(page)
        assert not violations, f"{name} at {size}:\n{describe(violations)}"
    # The search box in the header works from any page.
    page.goto(live_server.url + reverse("workflows:agreements"))
    page.locator("#site-search-q").fill("rättvik")
    page.locator("#site-search-q").press("Enter")
    page.locator("ol.search-results mark").first.wait_for()
    assert page.locator("ol.search-results mark").first.inner_text() == "Rättvik"
