"""axe-core scans (WCAG 2.0 and 2.1, levels A and AA) of the pages a user meets
first. A violation of any impact fails the test; the message lists each
rule, the elements and a link explaining the fix."""

import pytest
from django.urls import reverse

from cases.models import Stage
from tests.factories import agreement_in_stage

from .helpers import describe

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def assert_accessible(page, axe_scan, screenshot, name):
    screenshot(page, name)
    violations = axe_scan(page)
    assert not violations, f"{name}:\n{describe(violations)}"
    return violations


def test_login_page(page, live_server, axe_scan, screenshot):
    page.goto(live_server.url + reverse("login"))
    assert_accessible(page, axe_scan, screenshot, "axe-login")


def test_login_page_with_an_error(page, live_server, axe_scan, screenshot, falun_head):
    page.goto(live_server.url + reverse("login"))
    page.get_by_label("E-postadress").fill(falun_head.email)
    page.get_by_label("Lösenord").fill("fel lösenord")
    page.get_by_role("button", name="Logga in").click()
    page.get_by_role("alert").wait_for()
    assert_accessible(page, axe_scan, screenshot, "axe-login-error")


@pytest.mark.parametrize("language", ["sv", "en"])
def test_start_page_with_a_waiting_step(context_for, live_server, axe_scan, screenshot, falun_head, language):
    agreement_in_stage(Stage.REVIEW, "Falun", head=falun_head, title="Kultur i Falun 2026")
    page = context_for(falun_head).new_page()
    page.goto(live_server.url + "/")
    page.wait_for_url("**/arbete/")
    if language != "sv":
        page.locator(".user-menu summary").click()  # signed in, the language is under the user's name
        page.locator("#language-select").select_option(language)
        page.locator(".lang-form button").click()
        page.wait_for_function(f"document.documentElement.lang === '{language}'")
    assert page.get_attribute("html", "lang") == language
    assert page.locator("table tbody tr a").count() >= 1
    assert_accessible(page, axe_scan, screenshot, f"axe-start-page-{language}")


def test_empty_start_page(context_for, live_server, axe_scan, screenshot, mora_official):
    page = context_for(mora_official).new_page()
    page.goto(live_server.url + "/")
    page.wait_for_url("**/arbete/")
    assert_accessible(page, axe_scan, screenshot, "axe-start-page-empty")


def test_field_errors_are_read_out_with_their_fields(page, live_server, axe_scan, screenshot):
    """A screen reader announces a field's error when the field gets focus: the
    field is marked invalid and described by the element holding the error."""
    from playwright.sync_api import expect

    page.goto(live_server.url + reverse("login"))
    page.get_by_role("button", name="Logga in").click()  # empty form
    page.wait_for_load_state()
    for label in ("E-postadress", "Lösenord"):
        field = page.get_by_label(label)
        expect(field).to_have_attribute("aria-invalid", "true")
        expect(field).to_have_accessible_description("Detta fält måste fyllas i.")
    assert_accessible(page, axe_scan, screenshot, "axe-login-field-errors")
