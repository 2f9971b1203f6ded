"""Logging in and reaching the start page in a real browser, in Swedish and in
English, and by keyboard alone."""

import re

import pytest
from django.urls import reverse

from cases.models import Stage
from tests.factories import agreement_in_stage
from tests.factories.accounts import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

START = re.compile(r"/arbete/$")


def focused(page):
    """Name, tag and computed outline style of the element that has focus."""
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            const style = getComputedStyle(el);
            return {name: el.getAttribute('name'), tag: el.tagName.toLowerCase(), text: el.textContent.trim(),
                    outline: style.outlineStyle, outlineWidth: style.outlineWidth};
        }"""
    )


def wait_for_autofocus(page):
    """The browser focuses the autofocus field when it next renders, which may
    come just after the load event."""
    page.wait_for_function("document.activeElement && document.activeElement.name === 'username'")


def test_login_page_is_swedish(page, live_server, screenshot):
    page.goto(live_server.url + reverse("login"))
    assert page.get_attribute("html", "lang") == "sv"
    assert page.title() == "Logga in – Samverkan"
    assert page.inner_text("h1") == "Logga in i Samverkan"
    assert page.get_by_label("E-postadress").is_visible()
    assert page.get_by_label("Lösenord").is_visible()
    assert page.get_by_role("button", name="Logga in").is_visible()
    screenshot(page, "login-sv")


def test_falun_head_logs_in_and_reaches_the_start_page(page, live_server, falun_head, screenshot):
    agreement = agreement_in_stage(Stage.REVIEW, "Falun", head=falun_head, title="Kultur i Falun 2026")

    page.goto(live_server.url + "/")  # the start page asks for a login first
    assert "/login/" in page.url
    page.get_by_label("E-postadress").fill(falun_head.email)
    page.get_by_label("Lösenord").fill(PASSWORD)
    page.get_by_role("button", name="Logga in").click()

    page.wait_for_url(START)
    assert page.get_attribute("html", "lang") == "sv"
    assert page.inner_text("h1") == "Att göra"
    assert falun_head.full_name in page.inner_text("header")
    # The review step of Falun's agreement waits for her, linked from the table.
    row = page.get_by_role("table", name="Steg som väntar på dig").locator("tbody tr", has_text=agreement.case_number)
    assert row.count() == 1
    assert "Falun" in row.inner_text()
    assert row.get_by_role("link").count() == 2  # the step and the agreement
    screenshot(page, "start-page-falun-head-sv")


def test_wrong_password_keeps_the_user_on_the_login_page_with_a_message(page, live_server, falun_head):
    page.goto(live_server.url + reverse("login"))
    page.get_by_label("E-postadress").fill(falun_head.email)
    page.get_by_label("Lösenord").fill("fel lösenord")
    page.get_by_role("button", name="Logga in").click()
    page.wait_for_load_state()
    assert "/login/" in page.url
    assert "E-postadressen eller lösenordet är fel" in page.get_by_role("alert").inner_text()


def test_language_selector_switches_to_english_and_back(context_for, live_server, falun_head, screenshot):
    page = context_for(falun_head).new_page()
    page.goto(live_server.url + "/")
    page.wait_for_url(START)
    assert page.inner_text("h1") == "Att göra"

    page.locator(".user-menu summary").click()  # signed in, the language is under the user's name
    page.get_by_label("Språk").select_option("en")
    page.get_by_role("button", name="Byt språk").click()
    page.wait_for_function("document.documentElement.lang === 'en'")
    assert START.search(page.url), "the language switch returns to the page it was made on"
    assert page.inner_text("h1") == "To do"
    assert page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Agreements").is_visible()
    screenshot(page, "start-page-falun-head-en")

    # The choice lasts: the next page is English too.
    page.get_by_role("link", name="Agreements").click()
    page.wait_for_load_state()
    assert page.get_attribute("html", "lang") == "en"

    page.locator(".user-menu summary").click()
    page.get_by_label("Language").select_option("sv")
    page.get_by_role("button", name="Change language").click()
    page.wait_for_function("document.documentElement.lang === 'sv'")
    assert page.inner_text("h1") == "Överenskommelser"


def test_language_selector_by_keyboard_changes_nothing_until_confirmed(page, live_server):
    """Arrow keys on a closed select change its value at once; the page must not
    reload under the user then (WCAG 3.2.2 On Input), only on the button."""
    page.goto(live_server.url + reverse("login"))
    page.focus("#language-select")
    page.keyboard.press("ArrowDown")
    assert page.input_value("#language-select") == "en"
    page.wait_for_timeout(300)
    assert page.get_attribute("html", "lang") == "sv"
    assert page.evaluate("document.activeElement.id") == "language-select"

    page.keyboard.press("Tab")
    assert focused(page)["tag"] == "button" and focused(page)["outline"] != "none"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_attribute("html", "lang") == "en"
    assert page.inner_text("h1") == "Log in to Samverkan"


def test_login_form_by_keyboard_alone_with_visible_focus(page, live_server, falun_head):
    page.goto(live_server.url + reverse("login"))

    # The e-mail field has focus on arrival; Tab moves on to the password and the button.
    wait_for_autofocus(page)
    seen = []
    seen.append(focused(page))
    page.keyboard.type(falun_head.email)
    page.keyboard.press("Tab")
    assert focused(page)["name"] == "password"
    seen.append(focused(page))
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    assert focused(page)["tag"] == "button" and focused(page)["text"] == "Logga in"
    seen.append(focused(page))
    for element in seen:
        assert element["outline"] != "none" and element["outlineWidth"] != "0px", element

    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_url(START)
    assert page.inner_text("h1") == "Att göra"


def test_enter_in_the_password_field_submits(page, live_server, falun_head):
    page.goto(live_server.url + reverse("login"))
    wait_for_autofocus(page)
    page.keyboard.type(falun_head.email)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_url(START)


def test_first_tab_reaches_a_visible_skip_link_that_moves_focus_to_the_content(context_for, live_server, falun_head):
    page = context_for(falun_head).new_page()
    page.goto(live_server.url + "/")
    page.wait_for_url(START)

    page.keyboard.press("Tab")
    skip = focused(page)
    assert skip["tag"] == "a" and skip["text"] == "Hoppa till innehållet"
    assert skip["outline"] != "none"
    box = page.get_by_role("link", name="Hoppa till innehållet").bounding_box()
    assert box is not None and box["x"] >= 0 and box["y"] >= 0, "the focused skip link is on screen"

    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
