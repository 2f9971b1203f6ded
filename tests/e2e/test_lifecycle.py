"""One agreement clicked through its whole lifecycle in a real browser, by the
people who take its steps, each in their own browser context: the regional
coordinator opens and drafts it, the Mora cultural head asks for changes, the
coordinator revises, the head accepts, both record their decisions and sign,
the agreement is in force, and the auditor reads its timeline. Only clicks and
typing after the users exist. Screenshots of every key page go to
test-artifacts/screenshots/lifecycle-*.png.

Made for people with little time: after login each user lands on the steps
waiting for them, with due dates, and the cultural head completes a review in
at most three clicks after logging in."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from accounts.models import Role
from cases.models import Agreement
from tests.factories import user_with_role
from tests.factories.accounts import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

INBOX = re.compile(r"/arbete/$")
AGREEMENT_PAGE = re.compile(r"/arbete/overenskommelser/\d+/$")
STEP_PAGE = re.compile(r"/arbete/steg/\d+/[a-z_]+/\d+/$")


def sv(msgid):
    """What the Swedish UI shows for ``msgid``."""
    with translation.override("sv"):
        return gettext(msgid)


class Clicks:
    """Counts the clicks a person makes on a page (for the "at most three
    clicks" promise); the login submit itself is not counted."""

    def __init__(self, page):
        self.page, self.count = page, 0

    def click(self, locator):
        self.count += 1
        locator.click()


def log_in(page, live_server, user):
    """Through the real login page, as a person does: lands where the site sends them."""
    page.goto(live_server.url + reverse("login"))
    page.get_by_label("E-postadress").fill(user.email)
    page.get_by_label("Lösenord").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Logga in").click()
    assert "/login/" not in page.url, page.inner_text("main")


def waiting_row(page, step_title, case_number):
    """The inbox row of ``step_title`` on ``case_number``, with its due date."""
    table = page.get_by_role("table", name="Steg som väntar på dig")
    row = table.locator("tbody tr", has_text=case_number).filter(has=page.get_by_role("link", name=step_title))
    assert row.count() == 1, table.inner_text()
    return row


def assert_due_date_shown(row, step_name):
    from django.utils.formats import date_format

    from workflows.flows import AgreementFlow

    due = getattr(AgreementFlow, step_name).default_due_on()  # the step's own rule: working days
    with translation.override("sv"):
        expected = date_format(due, "j F Y")
    assert expected in row.inner_text(), (expected, row.inner_text())


def take_step_from_inbox(page, step_title, case_number, step_name, clicks=None):
    """From the start page: the step waits there with its due date; open it."""
    assert INBOX.search(page.url), page.url
    assert page.inner_text("h1") == "Att göra"
    row = waiting_row(page, step_title, case_number)
    assert_due_date_shown(row, step_name)
    link = row.get_by_role("link", name=step_title)
    with page.expect_navigation():
        (clicks.click if clicks else lambda locator: locator.click())(link)
    assert STEP_PAGE.search(page.url), page.url
    assert step_title in page.inner_text("h1")


def submit(page, button_name):
    with page.expect_navigation():
        page.get_by_role("button", name=button_name).click()


def success_message(page):
    return page.get_by_role("status").inner_text()


def label(text):
    """A field's label as Django writes it (with or without the colon)."""
    return re.compile(rf"^{re.escape(text)}:?$")


def fill_area(fieldset, title, goal, region, municipality):
    fieldset.get_by_label(label("Titel")).fill(title)
    fieldset.get_by_label(label("Mål")).fill(goal)
    fieldset.get_by_label("Vad regionen åtar sig").fill(region)
    fieldset.get_by_label("Vad kommunen åtar sig").fill(municipality)


def record_decision(page, *, body=None, paragraph):
    if body is not None:
        page.get_by_label("Beslutande organ").fill(body)
    page.get_by_label("Sammanträdesdatum").fill(timezone.localdate().isoformat())
    page.get_by_label("Paragraf").fill(paragraph)
    page.get_by_role("radio", name=sv("Approved")).check()
    submit(page, "Registrera beslutet")


def sign(page):
    """The signatory signs for themselves: the page shows the frozen document and
    its SHA-256 and asks only for the password (the re-authentication)."""
    assert page.get_by_role("heading", name="Dokumentet du skriver under").is_visible()
    assert re.search(r"[0-9a-f]{64}", page.locator("code.hash").first.inner_text())
    assert page.get_by_label("Undertecknarens namn").count() == 0, "who and when come from the account and the clock"
    page.get_by_label("Ditt lösenord").fill(PASSWORD)
    submit(page, "Skriv under överenskommelsen")


def next_steps(page):
    """The rows of "Vad händer nu" on the agreement page: step, who must act, due date."""
    section = page.locator("main table", has=page.locator("th", has_text="Vem ska agera"))
    return [row.inner_text() for row in section.locator("tbody tr").all()]


def stage_shown(page):
    return page.locator("dl.facts dt", has_text="Skede").locator("xpath=following-sibling::dd[1]").inner_text()


@pytest.fixture
def fresh_page(browser):
    """``fresh_page()``: a page in a new anonymous browser context (a person at
    their own computer), closed after the test."""
    from .conftest import _new_context

    contexts = []

    def make():
        context = _new_context(browser)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def test_an_agreement_clicked_through_its_whole_lifecycle(fresh_page, live_server, context_for, screenshot):
    coordinator = user_with_role(Role.COORDINATOR, full_name="Anna Samordnare", title="Regional samordnare")
    head = user_with_role(Role.CULTURAL_HEAD, "Mora", full_name="Lars Mora", title="Kulturchef")
    auditor = user_with_role(Role.AUDITOR, full_name="Erik Revisor")

    # -- The coordinator opens the agreement from the list page -------------
    anna = fresh_page()
    log_in(anna, live_server, coordinator)
    assert INBOX.search(anna.url)
    screenshot(anna, "lifecycle-01-coordinator-inbox-empty")
    anna.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name="Överenskommelser").click()
    anna.wait_for_url("**/arbete/overenskommelser/")
    screenshot(anna, "lifecycle-02-agreement-list")
    anna.get_by_role("link", name="Upprätta en ny överenskommelse").click()
    anna.wait_for_url("**/overenskommelser/ny/")
    anna.get_by_label("Kommun").select_option(label="Mora")
    anna.get_by_label("Planperiod").select_option(label="2023–2026")
    anna.get_by_label("Titel").fill("Kultursamverkan Mora 2023–2026")
    screenshot(anna, "lifecycle-03-open-agreement-form")
    submit(anna, "Upprätta överenskommelsen")
    assert AGREEMENT_PAGE.search(anna.url)
    agreement = Agreement.objects.get(title="Kultursamverkan Mora 2023–2026")
    case = agreement.case_number
    assert case in success_message(anna)
    assert anna.get_by_role("heading", name="Vad händer nu").is_visible()
    screenshot(anna, "lifecycle-04-agreement-drafting")

    # -- ... writes two areas and sends the draft for review ----------------
    with anna.expect_navigation():
        anna.get_by_role("link", name="Ta det här steget").click()
    assert STEP_PAGE.search(anna.url) and "/draft/" in anna.url
    fill_area(
        anna.locator("fieldset.card").nth(0),
        "Kulturskolan i samverkan",
        "Regionalt stöd för samverkan mellan kulturskolorna.",
        "Regionen leder en utredning.",
        "Mora bidrar med underlag.",
    )
    submit(anna, "Spara utkastet")
    assert "Utkastet har sparats" in success_message(anna)
    assert anna.locator("fieldset.card").count() == 2, "saving adds an empty area"
    fill_area(
        anna.locator("fieldset.card").nth(1),
        "Chefsnätverk",
        "Ett levande nätverk för kulturcheferna.",
        "Regionen samordnar nätverket.",
        "Kulturchefen deltar.",
    )
    anna.locator("fieldset.card").nth(1).get_by_role("checkbox").first.check()  # a plan priority
    screenshot(anna, "lifecycle-05-draft-step")
    submit(anna, "Skicka på granskning")
    assert AGREEMENT_PAGE.search(anna.url)
    assert "Mora" in success_message(anna)
    assert stage_shown(anna).startswith(sv("Municipal review"))
    assert anna.get_by_role("link", name="Ta det här steget").count() == 0, "the review is the head's step"
    (waiting,) = next_steps(anna)  # what comes next, by whom, by when
    assert "Granska utkastet" in waiting and "Mora" in waiting
    screenshot(anna, "lifecycle-06-agreement-in-review")

    # -- The Mora head starts from the inbox and asks for changes -----------
    lars = fresh_page()
    log_in(lars, live_server, head)
    screenshot(lars, "lifecycle-07-head-inbox")
    take_step_from_inbox(lars, "Granska utkastet", case, "review")
    assert lars.get_by_role("heading", name="1. Kulturskolan i samverkan").is_visible()
    screenshot(lars, "lifecycle-08-review-step")
    lars.get_by_role("radio", name="Begär ändringar").check()
    lars.get_by_label("Kommentar till hela överenskommelsen").fill("Lägg till kulturarvet i nätverket.")
    lars.get_by_label("Kommentar till ”Chefsnätverk”").fill("Vem leder nätverket?")
    submit(lars, "Skicka mitt ställningstagande")
    assert AGREEMENT_PAGE.search(lars.url)
    assert success_message(lars) == sv("Your comments have been sent. The region will revise the draft.")
    assert stage_shown(lars).startswith(sv("Drafting"))
    screenshot(lars, "lifecycle-09-agreement-changes-requested")

    # -- The coordinator revises and resends ---------------------------------
    anna.goto(live_server.url + "/")
    take_step_from_inbox(anna, "Skriv utkastet", case, "draft")
    comments = anna.get_by_role("note")
    assert "Lägg till kulturarvet i nätverket." in comments.inner_text()
    assert "Vem leder nätverket?" in comments.inner_text()
    network = anna.locator("fieldset.card", has=anna.locator("legend", has_text="Chefsnätverk"))
    network.get_by_label(label("Mål")).fill("Ett nätverk för kulturcheferna och kulturarvet, lett av regionen.")
    screenshot(anna, "lifecycle-10-draft-revision")
    submit(anna, "Skicka på granskning")
    assert stage_shown(anna).startswith(sv("Municipal review"))
    assert "omgång 2" in stage_shown(anna)

    # -- The head accepts: at most three clicks after logging in ------------
    lars = fresh_page()
    log_in(lars, live_server, head)
    clicks = Clicks(lars)
    take_step_from_inbox(lars, "Granska utkastet", case, "review", clicks=clicks)
    screenshot(lars, "lifecycle-11-review-round-2")
    what_changed = lars.get_by_role("link", name=sv("See what has changed since round %(round)s") % {"round": 1})
    assert "/jamfor/" in what_changed.get_attribute("href"), "the second round links to what changed"
    clicks.click(lars.get_by_role("radio", name="Godkänn utkastet"))
    with lars.expect_navigation():
        clicks.click(lars.get_by_role("button", name="Skicka mitt ställningstagande"))
    assert clicks.count <= 3, clicks.count
    assert AGREEMENT_PAGE.search(lars.url)
    assert stage_shown(lars).startswith(sv("Political approval"))
    waiting = next_steps(lars)
    assert len(waiting) == 2 and {"Registrera regionens beslut", "Registrera kommunens beslut"} == {
        row.split("\t")[0].strip() for row in waiting
    }
    screenshot(lars, "lifecycle-12-agreement-in-approval")
    print(f"\nThe cultural head completed the review in {clicks.count} clicks after logging in.")

    # -- Both decisions: the region's by the coordinator, Mora's by the head --
    anna.goto(live_server.url + "/")
    take_step_from_inbox(anna, "Registrera regionens beslut", case, "region_decision")
    assert anna.get_by_label("Beslutande organ").input_value(), "the region's body is filled in"
    screenshot(anna, "lifecycle-13-region-decision")
    record_decision(anna, paragraph="§ 45")
    assert "Beslutet har registrerats" in success_message(anna)

    lars.goto(live_server.url + "/")
    take_step_from_inbox(lars, "Registrera kommunens beslut", case, "municipal_decision")
    screenshot(lars, "lifecycle-14-municipal-decision")
    record_decision(lars, body="Kommunstyrelsen, Mora kommun", paragraph="§ 112")
    assert stage_shown(lars).startswith(sv("Signing"))

    # -- Both sign ------------------------------------------------------------
    anna.goto(live_server.url + "/")
    take_step_from_inbox(anna, "Underteckna för regionen", case, "sign_region")
    screenshot(anna, "lifecycle-15-sign-region")
    sign(anna)
    lars.goto(live_server.url + "/")
    take_step_from_inbox(lars, "Underteckna för kommunen", case, "sign_municipality")
    screenshot(lars, "lifecycle-16-sign-municipality")
    sign(lars)

    # -- In force -------------------------------------------------------------
    assert AGREEMENT_PAGE.search(lars.url)
    assert stage_shown(lars).startswith("I kraft")
    assert "Lars Mora" in lars.inner_text("main") and "Anna Samordnare" in lars.inner_text("main")
    screenshot(lars, "lifecycle-17-agreement-in-force")
    anna.reload()
    assert stage_shown(anna).startswith("I kraft")

    # -- The auditor, in a context of their own, reads it and its timeline ---
    erik = context_for(auditor).new_page()
    erik.goto(live_server.url + "/")
    erik.get_by_role("link", name="Överenskommelser").first.click()
    erik.wait_for_url("**/arbete/overenskommelser/")
    with erik.expect_navigation():
        erik.get_by_role("link", name=case).click()
    assert stage_shown(erik).startswith("I kraft")
    screenshot(erik, "lifecycle-18-auditor-agreement")
    assert erik.get_by_role("link", name="Ta det här steget").count() == 0
    main = erik.locator("main")
    assert main.locator("form[method=post]").count() == 0, "no form that writes"
    for path in ("/ny/", "/aterkalla/", "/fornya/", "/erbjud-alla/", "/steg/"):
        assert main.locator(f"a[href*='{path}']").count() == 0, path
    with erik.expect_navigation():
        erik.get_by_role("link", name="Tidslinje").first.click()
    assert "/tidslinje/" in erik.url
    assert case in erik.inner_text("h1")
    screenshot(erik, "lifecycle-19-auditor-timeline")
    erik.get_by_label(sv("Kind")).select_option(label=sv("Steps"))
    with erik.expect_navigation():
        erik.locator("main form[role=search]").get_by_role("button").click()
    screenshot(erik, "lifecycle-20-auditor-timeline-steps")
    # Earlier rounds and stages are folded: the auditor unfolds everything.
    with erik.expect_navigation():
        erik.get_by_role("link", name=sv("Unfold everything")).click()
    done = erik.locator("section.event", has_text=sv("Step completed"))
    steps_and_people = [
        ("Skriv utkastet", "Anna Samordnare"),
        ("Granska utkastet", "Lars Mora"),
        ("Registrera regionens beslut", "Anna Samordnare"),
        ("Registrera kommunens beslut", "Lars Mora"),
        ("Underteckna för regionen", "Anna Samordnare"),
        ("Underteckna för kommunen", "Lars Mora"),
    ]
    for step_title, person in steps_and_people:
        events = done.filter(has_text=step_title)
        assert events.count() >= 1, f"{step_title} missing from the timeline"
        assert person in events.first.locator(".actor").inner_text(), step_title
    assert done.filter(has_text="Skriv utkastet").count() == 2, "two rounds of drafting"
    assert done.filter(has_text="Granska utkastet").count() == 2, "two rounds of review"
    assert erik.locator("main form[method=post]").count() == 0
