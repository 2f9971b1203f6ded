"""Every key page, as the person who uses it, in a real browser:

- axe-core (WCAG 2.0/2.1 A and AA, and best practices) finds no violation of any impact;
- the page has exactly one h1, and its <title> says where the user is (the
  title names the page the h1 names);
- every task form (draft, review, decision, signing, follow-up report and
  review) can be completed with the keyboard alone, and whatever has focus
  shows a visible outline.

Each page is also saved as a screenshot (test-artifacts/screenshots/axe-*.png),
and the pages scanned are listed, with the number of violations of each
impact, in test-artifacts/axe-key-pages.txt."""

import datetime
import re
import zoneinfo
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from accounts.models import Role
from cases.meetings.services import ActionPointInput, meeting_record
from cases.models import Stage
from tests.factories import agreement_in_stage, municipality, user_with_role
from tests.factories.accounts import PASSWORD
from workflows.flows import AgreementFlow

from .helpers import describe

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "test-artifacts" / "axe-key-pages.txt"
STOCKHOLM = zoneinfo.ZoneInfo("Europe/Stockholm")
SITE = "Samverkan"
IMPACTS = ("critical", "serious", "moderate", "minor")


def sv(msgid):
    with translation.override("sv"):
        return gettext(msgid)


def step_url(agreement, step, *, done=False):
    """The address of ``agreement``'s latest open (or, with ``done``, finished) ``step``."""
    statuses = [STATUS.DONE] if done else [STATUS.NEW, STATUS.ASSIGNED]
    task = (
        Task.objects.filter(
            process__agreementprocess__agreement=agreement,
            flow_task=getattr(AgreementFlow, step),
            status__in=statuses,
        )
        .order_by("-pk")
        .first()
    )
    assert task is not None, f"no {'finished' if done else 'open'} {step} step"
    return reverse("workflows:step", args=[task.process_id, step, task.pk])


# ---------------------------------------------------------------------------
# The checks of one page
# ---------------------------------------------------------------------------


def page_facts(page):
    return page.evaluate(
        """() => ({
            title: document.title,
            h1: Array.from(document.querySelectorAll('h1')).map(h => h.textContent.replace(/\\s+/g, ' ').trim()),
            lang: document.documentElement.lang,
        })"""
    )


def title_problems(facts):
    problems = []
    if len(facts["h1"]) != 1:
        problems.append(f"{len(facts['h1'])} h1 elements: {facts['h1']}")
    title = facts["title"]
    suffix, error = f" – {SITE}", sv("Error:") + " "
    where = title[: -len(suffix)] if title.endswith(suffix) else ""
    where = where.removeprefix(error)
    if not where.strip() or where.strip() == SITE:
        problems.append(f"the title {title!r} does not say where the user is")
    elif facts["h1"]:
        h1 = facts["h1"][0]
        if where not in h1 and h1 not in where:
            problems.append(f"the title {title!r} names another page than the h1 {h1!r}")
    return problems


def error_summary_problems(page, fields):
    """What is wrong with the error summary of a form that came back with
    errors on ``fields`` fields (see templates/includes/error_summary.html)."""
    summary = page.locator(".error-summary")
    if summary.count() != 1:
        return ["no error summary at the top of the form"]
    problems = []
    facts = summary.evaluate(
        """el => ({
            focused: document.activeElement === el,
            role: el.getAttribute('role'),
            text: el.querySelector('p').textContent.trim(),
            links: Array.from(el.querySelectorAll('a')).map(a => {
                const target = document.getElementById(a.hash.slice(1));
                const invalid = !!target && target.getAttribute('aria-invalid') === 'true';
                return {text: a.textContent.trim(), invalid};
            }),
        })"""
    )
    if facts["text"] != sv("Nothing has been saved. Correct the fields marked below and save again."):
        problems.append(f"the summary says {facts['text']!r}")
    if not facts["focused"]:
        problems.append("the error summary does not have focus")
    if facts["role"] != "alert":
        problems.append("the error summary is not an alert")
    if len(facts["links"]) != fields:
        problems.append(f"{len(facts['links'])} links to fields in error, not {fields}: {facts['links']}")
    problems += [
        f"the link {link['text']!r} leads to no field marked invalid" for link in facts["links"] if not link["invalid"]
    ]
    if not page.title().startswith(sv("Error:") + " "):
        problems.append(f"the title {page.title()!r} does not start with {sv('Error:')!r}")
    return problems


class KeyPages:
    """Scans pages, collects every problem, and fails once at the end with all
    of them, so that one run shows everything that needs fixing."""

    def __init__(self, axe_scan, screenshot):
        self.axe_scan, self.screenshot = axe_scan, screenshot
        self.rows, self.problems = [], []

    def check(self, page, name, *, who, errors=None):
        """Scan the page; with ``errors`` (the number of fields in error), check
        that the form says at the top that nothing was saved and links to each
        field to correct, and that the title starts with "Fel:"."""
        page.wait_for_load_state()
        if errors is not None:
            self.problems += [f"{name} ({who}): {p}" for p in error_summary_problems(page, errors)]
        self.screenshot(page, f"axe-{name}")
        violations = self.axe_scan(page)
        facts = page_facts(page)
        counts = {impact: sum(1 for v in violations if v["impact"] == impact) for impact in IMPACTS}
        path = page.url.split("//", 1)[-1].split("/", 1)[-1]
        self.rows.append((name, who, "/" + path, counts, sorted({v["id"] for v in violations})))
        problems = title_problems(facts)
        if facts["lang"] != "sv":
            problems.append(f"lang is {facts['lang']!r}")
        if violations:
            problems.append(describe(violations))
        self.problems += [f"{name} ({who}): {problem}" for problem in problems]
        return violations

    def assert_all(self):
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        with REPORT.open("a", encoding="utf-8") as out:
            for name, who, path, counts, rules in self.rows:
                figures = " ".join(f"{impact}={counts[impact]}" for impact in IMPACTS)
                out.write(f"{name}\t{who}\t{path}\t{figures}\t{','.join(rules)}\n")
        assert not self.problems, "\n".join(self.problems)


@pytest.fixture(scope="module", autouse=True)
def _fresh_report():
    REPORT.unlink(missing_ok=True)


@pytest.fixture
def key_pages(axe_scan, screenshot):
    return KeyPages(axe_scan, screenshot)


def go(page, live_server, path, *, status=200):
    response = page.goto(live_server.url + path)
    assert response.status == status, (path, response.status, page.inner_text("main")[:500])
    return response


def submit_and_wait(page, button_name, *, status=None):
    with page.expect_response(lambda r: r.request.method == "POST") as info:
        page.get_by_role("button", name=button_name).click()
    page.wait_for_load_state()
    if status is not None:
        assert info.value.status == status, (button_name, info.value.status)
    return info.value


# ---------------------------------------------------------------------------
# Every key page, as the person who uses it
# ---------------------------------------------------------------------------


@pytest.fixture
def county_in_every_stage(coordinator, mora_head):
    """Mora in drafting, Falun in review, Leksand in political approval, Orsa in
    signing and Ludvika in force (with a review round behind it)."""
    heads = {
        "Falun": user_with_role(Role.CULTURAL_HEAD, "Falun", full_name="Karin Falun"),
        "Leksand": user_with_role(Role.CULTURAL_HEAD, "Leksand", full_name="Olle Leksand"),
        "Orsa": user_with_role(Role.CULTURAL_HEAD, "Orsa", full_name="Ida Orsa"),
        "Ludvika": user_with_role(Role.CULTURAL_HEAD, "Ludvika", full_name="Maria Ludvika"),
        "Mora": mora_head,
    }
    stages = {
        "Mora": Stage.DRAFTING,
        "Falun": Stage.REVIEW,
        "Leksand": Stage.APPROVAL,
        "Orsa": Stage.SIGNING,
        "Ludvika": Stage.IN_FORCE,
    }
    agreements = {
        name: agreement_in_stage(stage, name, coordinator=coordinator, head=heads[name])
        for name, stage in stages.items()
    }
    ludvika = agreements["Ludvika"]
    meeting_record(
        actor=coordinator,
        held_on=timezone.localdate() - datetime.timedelta(days=7),
        place="Dalarnas museum, Falun",
        participants=[municipality("Ludvika"), municipality("Falun")],
        minutes="Uppföljningen av överenskommelserna diskuterades.",
        action_points=[
            ActionPointInput(
                municipality=municipality("Ludvika"),
                area=ludvika.active_areas().first(),
                description="Bjud in kulturskolorna till ett gemensamt möte.",
                owner_name="Maria Ludvika",
                due_on=timezone.localdate() + datetime.timedelta(days=60),
            )
        ],
    )
    return agreements, heads


def test_the_coordinators_pages(context_for, live_server, key_pages, coordinator, county_in_every_stage):
    agreements, _heads = county_in_every_stage
    page = context_for(coordinator).new_page()
    who = "coordinator"

    go(page, live_server, "/")
    assert page.url.endswith("/arbete/")
    key_pages.check(page, "inbox-coordinator", who=who)
    go(page, live_server, reverse("workflows:agreements"))
    key_pages.check(page, "agreement-list", who=who)
    go(page, live_server, reverse("workflows:agreements") + "?stage=in_force&overdue=on")
    key_pages.check(page, "agreement-list-filtered", who=who)
    for agreement in agreements.values():
        go(page, live_server, reverse("workflows:agreement", args=[agreement.pk]))
        key_pages.check(page, f"agreement-{agreement.stage}", who=who)

    # Opening an agreement, and the form's errors.
    go(page, live_server, reverse("workflows:agreement_open"))
    key_pages.check(page, "open-agreement", who=who)
    page.get_by_label(re.compile("^Titel")).fill("")
    submit_and_wait(page, "Upprätta överenskommelsen", status=400)
    key_pages.check(page, "open-agreement-errors", who=who, errors=2)

    # The coordinator's step forms, and each with errors.
    go(page, live_server, step_url(agreements["Mora"], "draft"))
    key_pages.check(page, "step-draft", who=who)
    page.get_by_label(re.compile("^Överenskommelsens titel")).fill("")
    page.locator("fieldset.card").first.get_by_label(re.compile("^Titel")).fill("Ett område utan mål")
    submit_and_wait(page, "Skicka på granskning", status=400)
    key_pages.check(page, "step-draft-errors", who=who, errors=4)

    go(page, live_server, step_url(agreements["Leksand"], "region_decision"))
    key_pages.check(page, "step-region-decision", who=who)
    submit_and_wait(page, "Registrera beslutet", status=400)
    key_pages.check(page, "step-region-decision-errors", who=who, errors=3)

    go(page, live_server, step_url(agreements["Orsa"], "sign_region"))
    key_pages.check(page, "step-sign-region", who=who)
    submit_and_wait(page, "Skriv under överenskommelsen", status=400)  # no password given
    key_pages.check(page, "step-sign-region-errors", who=who, errors=1)
    go(page, live_server, reverse("workflows:paper_signature", args=[agreements["Orsa"].pk, "municipality"]))
    key_pages.check(page, "paper-signature", who=who)
    submit_and_wait(page, "Registrera pappersunderskriften", status=400)
    key_pages.check(page, "paper-signature-errors", who=who, errors=2)

    # A step that has been taken already: the conflict page.
    go(page, live_server, step_url(agreements["Falun"], "draft", done=True), status=409)
    key_pages.check(page, "conflict-409", who=who)

    # History, comparison and the as-of view.
    ludvika = agreements["Ludvika"]
    go(page, live_server, reverse("workflows:agreement_timeline", args=[ludvika.pk]))
    key_pages.check(page, "timeline-coordinator", who=who)
    go(page, live_server, reverse("workflows:agreement_compare", args=[ludvika.pk]))
    key_pages.check(page, "compare", who=who)
    first_round = ludvika.revisions.get(round=1)
    go(
        page,
        live_server,
        reverse("workflows:agreement_compare", args=[ludvika.pk]) + f"?left=rev-{first_round.pk}&right=draft",
    )
    key_pages.check(page, "compare-result", who=who)
    go(page, live_server, reverse("workflows:agreement_as_of", args=[ludvika.pk]))
    key_pages.check(page, "as-of-form", who=who)
    when = (timezone.localtime() + datetime.timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M")
    go(page, live_server, reverse("workflows:agreement_as_of", args=[ludvika.pk]) + f"?tid={when}")
    key_pages.check(page, "as-of", who=who)
    go(page, live_server, reverse("workflows:agreement_as_of", args=[ludvika.pk]) + "?tid=igår", status=400)
    key_pages.check(page, "as-of-errors", who=who)

    # The county at a glance, and the dialogue meetings.
    go(page, live_server, reverse("workflows:county"))
    key_pages.check(page, "county", who=who)
    go(page, live_server, reverse("workflows:coverage"))
    key_pages.check(page, "coverage", who=who)
    go(page, live_server, reverse("workflows:meetings"))
    key_pages.check(page, "meetings", who=who)
    with page.expect_navigation():
        page.locator("main table tbody a").first.click()
    key_pages.check(page, "meeting-detail", who=who)
    go(page, live_server, reverse("workflows:meeting_new"))
    key_pages.check(page, "meeting-new", who=who)
    submit_and_wait(page, "Spara mötet", status=400)
    key_pages.check(page, "meeting-new-errors", who=who)

    # The other pages: queue, archive, audit log, not found, two-step sign-in.
    go(page, live_server, reverse("workflows:queue"))
    key_pages.check(page, "queue", who=who)
    go(page, live_server, reverse("workflows:archive"))
    key_pages.check(page, "archive", who=who)
    go(page, live_server, reverse("workflows:agreement", args=[999999]), status=404)
    key_pages.check(page, "not-found-404", who=who)
    go(page, live_server, reverse("accounts:two_factor"))
    key_pages.check(page, "two-factor-off", who=who)
    # Setting up the app needs the one-time link from the coordinator's mailbox first.
    from django.test import TestCase

    from accounts import enrolment
    from tests.security.helpers import enrolment_link_from_outbox

    with TestCase.captureOnCommitCallbacks(execute=True):
        enrolment.link_send(user=coordinator)
    go(page, live_server, "/konto/" + enrolment_link_from_outbox(coordinator).split("/konto/", 1)[1])
    submit_and_wait(page, re.compile("^Fortsätt"))
    go(page, live_server, reverse("accounts:two_factor_setup"))
    key_pages.check(page, "two-factor-setup", who=who)
    page.locator("input[name=code]").fill("000000")
    submit_and_wait(page, re.compile("Bekräfta|Confirm"), status=400)
    key_pages.check(page, "two-factor-setup-errors", who=who)

    key_pages.assert_all()


def test_the_cultural_heads_pages(context_for, live_server, key_pages, coordinator, county_in_every_stage):
    agreements, heads = county_in_every_stage
    who = "cultural head"

    falun = context_for(heads["Falun"]).new_page()
    go(falun, live_server, "/")
    key_pages.check(falun, "inbox-cultural-head", who=who)
    go(falun, live_server, step_url(agreements["Falun"], "review"))
    key_pages.check(falun, "step-review", who=who)
    falun.get_by_role("radio", name="Begär ändringar").check()
    submit_and_wait(falun, "Skicka mitt ställningstagande", status=400)
    key_pages.check(falun, "step-review-errors", who=who, errors=1)

    leksand = context_for(heads["Leksand"]).new_page()
    go(leksand, live_server, step_url(agreements["Leksand"], "municipal_decision"))
    key_pages.check(leksand, "step-municipal-decision", who=who)
    leksand.get_by_role("radio", name=sv("Rejected")).check()
    submit_and_wait(leksand, "Registrera beslutet", status=400)
    key_pages.check(leksand, "step-municipal-decision-errors", who=who, errors=3)

    orsa = context_for(heads["Orsa"]).new_page()
    go(orsa, live_server, step_url(agreements["Orsa"], "sign_municipality"))
    key_pages.check(orsa, "step-sign-municipality", who=who)
    go(orsa, live_server, reverse("workflows:agreement", args=[agreements["Orsa"].pk]))
    key_pages.check(orsa, "agreement-signing-cultural-head", who=who)

    # What a cultural head may not do, or not see.
    go(orsa, live_server, reverse("workflows:agreement_open"), status=403)
    key_pages.check(orsa, "forbidden-403", who=who)
    go(orsa, live_server, reverse("workflows:agreement", args=[agreements["Falun"].pk]), status=404)
    key_pages.check(orsa, "not-found-other-municipality-404", who=who)
    go(orsa, live_server, reverse("workflows:meetings"))
    key_pages.check(orsa, "meetings-cultural-head", who=who)

    key_pages.assert_all()


def test_the_auditors_pages(context_for, live_server, key_pages, auditor, county_in_every_stage):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    agreements, _heads = county_in_every_stage
    ludvika = agreements["Ludvika"]
    who = "auditor"
    page = context_for(auditor).new_page()

    go(page, live_server, "/")
    key_pages.check(page, "inbox-auditor-empty", who=who)
    go(page, live_server, reverse("workflows:agreement", args=[ludvika.pk]))
    key_pages.check(page, "agreement-auditor", who=who)
    go(page, live_server, reverse("workflows:agreement_timeline", args=[ludvika.pk]))
    key_pages.check(page, "timeline-auditor", who=who)
    go(page, live_server, reverse("workflows:agreement_timeline", args=[ludvika.pk]) + "?kind=steps")
    key_pages.check(page, "timeline-steps", who=who)
    go(page, live_server, reverse("workflows:audit_log"))
    key_pages.check(page, "audit-log", who=who)
    go(page, live_server, reverse("workflows:audit_log") + "?date_from=2026-05-01&date_to=2026-04-01", status=400)
    key_pages.check(page, "audit-log-errors", who=who)
    go(page, live_server, reverse("background:preferences"))
    key_pages.check(page, "email-settings", who=who)

    # The administrators' view of the outgoing e-mail (the steps above queued some).
    administrator = user_with_role(Role.ADMINISTRATOR, full_name="Ingrid Admin")
    admin_page = context_for(administrator).new_page()
    go(admin_page, live_server, reverse("background:outbox") + "?status=pending")
    key_pages.check(admin_page, "outgoing-email", who="administrator")

    # Two-step sign-in with an app: the code page, and a wrong code.
    reader = user_with_role(Role.AUDITOR, full_name="Rut Revisor")
    TOTPDevice.objects.create(user=reader, name="Autentiseringsapp", confirmed=True)
    page = context_for(reader).new_page()
    go(page, live_server, "/")
    assert "/konto/tvastegsverifiering/kod/" in page.url
    key_pages.check(page, "two-factor-code", who=who)
    page.locator("input[name=code]").fill("000000")
    submit_and_wait(page, re.compile("^Fortsätt|^Continue"), status=400)
    key_pages.check(page, "two-factor-code-errors", who=who)

    key_pages.assert_all()


def at(day, hour=9):
    return datetime.datetime(day.year, day.month, day.day, hour, tzinfo=STOCKHOLM)


@pytest.fixture
def follow_up_due(coordinator, mora_head):
    """Mora's agreement in force since September 2025, its 2025 follow-up opened
    by the timers on 1 October 2025 and waiting for the cultural head (overdue
    by now, since the test runs in the present)."""
    with time_machine.travel(at(datetime.date(2025, 9, 1)), tick=False):
        agreement = agreement_in_stage(Stage.IN_FORCE, "Mora", coordinator=coordinator, head=mora_head)
    with time_machine.travel(at(datetime.date(2025, 10, 2)), tick=False):
        call_command("workflow_timers")
    assert agreement.follow_ups.filter(year=2025).exists()
    return agreement


def test_the_follow_up_pages_and_forms_by_keyboard(
    context_for, live_server, key_pages, coordinator, mora_head, follow_up_due
):
    agreement = follow_up_due
    head = context_for(mora_head).new_page()
    go(head, live_server, "/")
    key_pages.check(head, "inbox-follow-up-overdue", who="cultural head")
    go(head, live_server, step_url(agreement, "write_follow_up"))
    key_pages.check(head, "step-follow-up-report", who="cultural head")
    submit_and_wait(head, "Lämna in uppföljningen", status=400)
    key_pages.check(head, "step-follow-up-report-errors", who="cultural head", errors=0)

    # The report by keyboard: a status and a few words per area, then hand in.
    keys = Keyboard(head)
    keys.to_content()
    for n in range(agreement.active_areas().count()):
        keys.tab_to(lambda el: el["name"].startswith("progress_"))
        head.keyboard.press("ArrowDown")
        keys.tab_to(lambda el: el["name"].startswith("narrative_"))
        head.keyboard.press("Control+A")
        head.keyboard.type(f"Område {n + 1} går enligt plan.")
    keys.tab_to(lambda el: el["text"] == "Lämna in uppföljningen")
    with head.expect_navigation():
        head.keyboard.press("Enter")
    keys.assert_focus_always_visible()
    assert "/overenskommelser/" in head.url, head.inner_text("main")[:500]
    follow_up = agreement.follow_ups.get(year=2025)
    assert follow_up.status == follow_up.Status.SUBMITTED

    page = context_for(coordinator).new_page()
    go(page, live_server, step_url(agreement, "review_follow_up"))
    key_pages.check(page, "step-follow-up-review", who="coordinator")
    page.get_by_role("radio", name=sv("Return it for completion")).check()
    submit_and_wait(page, "Skicka mitt ställningstagande", status=400)
    key_pages.check(page, "step-follow-up-review-errors", who="coordinator", errors=1)

    # The review by keyboard: the verdict with Space, the button with Enter.
    go(page, live_server, step_url(agreement, "review_follow_up"))
    keys = Keyboard(page)
    keys.to_content()
    keys.tab_to(lambda el: el["name"] == "verdict")
    page.keyboard.press("Space")
    assert page.evaluate("document.activeElement.checked") and keys.focused()["value"] == "accept"
    keys.tab_to(lambda el: el["text"] == "Skicka mitt ställningstagande")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    keys.assert_focus_always_visible()
    follow_up.refresh_from_db()
    assert follow_up.status == follow_up.Status.ACCEPTED
    key_pages.check(page, "agreement-in-force-follow-up-accepted", who="coordinator")

    key_pages.assert_all()


# ---------------------------------------------------------------------------
# Every task form with the keyboard alone, focus always visible
# ---------------------------------------------------------------------------

FOCUSED = """() => {
    const el = document.activeElement;
    const style = getComputedStyle(el);
    return {
        tag: el.tagName.toLowerCase(), type: el.type || '', name: el.name || '', id: el.id || '',
        value: el.value === undefined ? '' : String(el.value),
        text: (el.textContent || '').replace(/\\s+/g, ' ').trim().slice(0, 80),
        outline: style.outlineStyle, outlineWidth: style.outlineWidth, shadow: style.boxShadow,
    };
}"""


_DATE_ORDERS = {}


def date_typing_order(context):
    """How a date is typed into a date field of this browser: its segments
    follow the browser's own language (year first in Swedish, month first in
    American English), whatever the page's language. Found out once by typing
    into a probe field."""
    if "order" not in _DATE_ORDERS:
        probe = context.new_page()
        try:
            for order in ("%Y%m%d", "%m%d%Y", "%d%m%Y"):
                probe.set_content('<input type="date" id="probe">')
                probe.focus("#probe")
                probe.keyboard.type(datetime.date(2031, 12, 24).strftime(order))
                if probe.input_value("#probe") == "2031-12-24":
                    _DATE_ORDERS["order"] = order
                    break
            else:
                raise AssertionError("no way to type a date into a date field")
        finally:
            probe.close()
    return _DATE_ORDERS["order"]


def focus_visible(el):
    outline = el["outline"] != "none" and el["outlineWidth"] not in ("0px", "")
    return outline or el["shadow"] not in ("none", "")


class Keyboard:
    """Moves through a page with Tab only, remembering everything that got focus."""

    def __init__(self, page):
        self.page, self.seen = page, []

    def focused(self):
        return self.page.evaluate(FOCUSED)

    def to_content(self):
        """Tab to the skip link and follow it: focus moves to the main content.
        A form that came back with errors starts there already, on its error summary."""
        if self.page.evaluate("document.activeElement.classList.contains('error-summary')"):
            return
        self.page.keyboard.press("Tab")
        skip = self.focused()
        assert skip["text"] == "Hoppa till innehållet", skip
        self.seen.append(skip)
        self.page.keyboard.press("Enter")
        assert self.page.evaluate("document.activeElement.id") == "main"

    def tab_to(self, match, limit=80):
        for _press in range(limit):
            self.page.keyboard.press("Tab")
            element = self.focused()
            self.seen.append(element)
            if match(element):
                return element
        raise AssertionError(f"Tab never reached the element; the last ones: {self.seen[-6:]}")

    def type_into(self, name, text):
        """Tab to the field ``name``, and replace what it holds by ``text``."""
        self.tab_to(lambda el: el["name"] == name)
        self.page.keyboard.press("Control+A")
        self.page.keyboard.type(text)

    def type_date(self, name, day, *, tab=True):
        """Tab to the date field ``name`` (unless it has focus already) and type
        ``day`` into its segments, in the order the browser shows them."""
        if tab:
            self.tab_to(lambda el: el["name"] == name)
        self.page.keyboard.type(day.strftime(date_typing_order(self.page.context)))
        assert self.focused()["value"] == day.isoformat(), self.focused()

    def press_button(self, text, key="Enter"):
        self.tab_to(lambda el: el["tag"] == "button" and el["text"] == text)
        with self.page.expect_navigation():
            self.page.keyboard.press(key)

    def assert_focus_always_visible(self):
        hidden = [el for el in self.seen if not focus_visible(el)]
        assert not hidden, f"focus not visible on: {hidden}"


def test_the_draft_form_by_keyboard(context_for, live_server, coordinator, mora_head):
    agreement = agreement_in_stage(Stage.DRAFTING, "Mora", coordinator=coordinator, head=mora_head)
    page = context_for(coordinator).new_page()
    go(page, live_server, step_url(agreement, "draft"))
    keys = Keyboard(page)
    keys.to_content()
    keys.type_into("title", "Kultursamverkan Mora, skriven med tangentbordet")
    keys.type_into("areas-0-title", "Läsfrämjande")
    keys.type_into("areas-0-goal", "Fler barn läser.")
    keys.type_into("areas-0-region_commitment", "Regionen stöttar biblioteken.")
    keys.type_into("areas-0-municipality_commitment", "Kommunen ordnar läsecirklar.")
    keys.tab_to(lambda el: el["name"] == "areas-0-priorities")
    page.keyboard.press("Space")
    assert page.evaluate("document.activeElement.checked")
    keys.press_button("Skicka på granskning")
    keys.assert_focus_always_visible()

    assert re.search(r"/arbete/overenskommelser/\d+/(#main)?$", page.url), page.inner_text("main")[:500]
    agreement.refresh_from_db()
    assert agreement.stage == Stage.REVIEW
    assert agreement.title == "Kultursamverkan Mora, skriven med tangentbordet"
    area = agreement.active_areas().get()
    assert area.title == "Läsfrämjande" and area.priorities.count() == 1


def test_the_review_form_by_keyboard(context_for, live_server, coordinator, mora_head):
    agreement = agreement_in_stage(Stage.REVIEW, "Mora", coordinator=coordinator, head=mora_head)
    page = context_for(mora_head).new_page()
    go(page, live_server, step_url(agreement, "review"))
    keys = Keyboard(page)
    keys.to_content()
    keys.tab_to(lambda el: el["name"] == "verdict")
    page.keyboard.press("ArrowDown")  # arrows move within the group: to "ask for changes"
    assert keys.focused()["value"] == "changes" and page.evaluate("document.activeElement.checked")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Space")
    assert keys.focused()["value"] == "accept" and page.evaluate("document.activeElement.checked")
    keys.type_into("comment", "Bra, vi är överens.")
    keys.press_button("Skicka mitt ställningstagande", key="Space")
    keys.assert_focus_always_visible()

    agreement.refresh_from_db()
    assert agreement.stage == Stage.APPROVAL, page.inner_text("main")[:500]


def test_the_decision_and_signing_forms_by_keyboard(context_for, live_server, coordinator, mora_head):
    agreement = agreement_in_stage(Stage.APPROVAL, "Mora", coordinator=coordinator, head=mora_head)
    today = timezone.localdate()

    page = context_for(coordinator).new_page()
    go(page, live_server, step_url(agreement, "region_decision"))
    keys = Keyboard(page)
    keys.to_content()
    # Sent too early: the page comes back with its error summary in focus, and
    # its first link leads to the first field to correct.
    keys.press_button("Registrera beslutet")
    assert page.evaluate("document.activeElement.classList.contains('error-summary')")
    first = keys.tab_to(lambda el: el["tag"] == "a")
    assert first["text"].startswith("Sammanträdesdatum"), first
    page.keyboard.press("Enter")
    assert keys.focused()["name"] == "meeting_date", "the link moves focus to the field"
    keys.seen.append(keys.focused())
    keys.type_date("meeting_date", today, tab=False)
    keys.type_into("paragraph", "§ 45")
    keys.tab_to(lambda el: el["name"] == "outcome")
    page.keyboard.press("Space")
    assert keys.focused()["value"] == "approved" and page.evaluate("document.activeElement.checked")
    keys.press_button("Registrera beslutet")
    keys.assert_focus_always_visible()
    assert agreement.decisions.filter(party="region", paragraph="§ 45").exists(), page.inner_text("main")[:500]

    head = context_for(mora_head).new_page()
    go(head, live_server, step_url(agreement, "municipal_decision"))
    keys = Keyboard(head)
    keys.to_content()
    keys.type_into("body", "Kommunstyrelsen")
    keys.type_date("meeting_date", today)
    keys.type_into("paragraph", "§ 112")
    keys.tab_to(lambda el: el["name"] == "outcome")
    head.keyboard.press("Space")
    keys.press_button("Registrera beslutet")
    keys.assert_focus_always_visible()
    agreement.refresh_from_db()
    assert agreement.stage == Stage.SIGNING, head.inner_text("main")[:500]

    for person, step in ((page, "sign_region"), (head, "sign_municipality")):
        go(person, live_server, step_url(agreement, step))
        keys = Keyboard(person)
        keys.to_content()
        # The signatory signs for themselves, confirming who they are with their password.
        keys.type_into("password", PASSWORD)
        keys.press_button("Skriv under överenskommelsen")
        keys.assert_focus_always_visible()
    agreement.refresh_from_db()
    assert agreement.stage == Stage.IN_FORCE


# ---------------------------------------------------------------------------
# Signing in: through the organisation's identity provider, two-step set-up,
# recovery codes, the user's own sign-ins
# ---------------------------------------------------------------------------


def test_the_sign_in_pages(browser, context_for, live_server, key_pages, oidc_provider, settings):
    """A person signs in through the (real) identity provider in the browser;
    every page of signing in and of one's own sessions passes axe."""
    from django.test import TestCase

    from accounts import enrolment
    from tests.security.helpers import enrolment_link_from_outbox

    settings.SAMVERKAN_REQUIRE_2FA_ROLES = ["coordinator", "administrator"]
    oidc_provider.configure(rules="domain:mora.se=2062:official")
    oidc_provider.allow_redirect(live_server.url + reverse("accounts:oidc_callback", args=["test"]))
    oidc_provider.person("ulla", email="ulla@mora.se", name="Ulla Mora", groups=[])
    oidc_provider.signs_in_next("ulla")

    # The login page with the provider's button; the browser goes there and back.
    page = browser.new_context(locale="sv-SE").new_page()
    go(page, live_server, reverse("login"))
    key_pages.check(page, "login-with-provider", who="anonymous")
    with page.expect_navigation(url=re.compile(r"/arbete/$")):
        page.get_by_role("link", name="Logga in med Testleverantören").click()
    assert page.inner_text("h1") == "Att göra"
    assert "Ulla Mora" in page.inner_text("header")

    # Her own sign-ins, with a second session: she signs in again from another browser.
    other = browser.new_context(locale="sv-SE").new_page()
    oidc_provider.signs_in_next("ulla")
    go(other, live_server, reverse("accounts:oidc_login", args=["test"]))
    assert other.url.endswith("/arbete/")
    other.context.close()
    go(page, live_server, reverse("accounts:sign_ins"))
    assert page.get_by_role("button", name=re.compile("^Avsluta sessionen från")).count() == 1
    assert "Testleverantören" in page.inner_text("main")
    key_pages.check(page, "sign-ins", who="municipal official")
    page.context.close()

    # A coordinator without an app: the enrolment gate, with a wrong code, then a link by e-mail.
    coordinator = user_with_role(Role.COORDINATOR, full_name="Signe Samordnare")
    page = context_for(coordinator).new_page()
    go(page, live_server, reverse("accounts:two_factor_setup"))
    key_pages.check(page, "enrolment-gate", who="coordinator")
    page.get_by_label(re.compile("^Registreringskod")).fill("FEL")
    submit_and_wait(page, "Använd koden", status=400)
    key_pages.check(page, "enrolment-gate-errors", who="coordinator", errors=1)
    with TestCase.captureOnCommitCallbacks(execute=True):
        enrolment.link_send(user=coordinator)
    link = enrolment_link_from_outbox(coordinator).split("/konto/", 1)[1]
    go(page, live_server, "/konto/" + link)
    key_pages.check(page, "enrolment-link", who="coordinator")
    go(page, live_server, "/konto/tvastegsverifiering/lank/okand/", status=404)
    key_pages.check(page, "enrolment-link-unusable", who="coordinator")

    # Recovery codes (made for a user with an app), and signing in with one.
    from django_otp.plugins.otp_totp.models import TOTPDevice

    holder = user_with_role(Role.CULTURAL_HEAD, "Falun", full_name="Rut Reserv")
    TOTPDevice.objects.create(user=holder, name="Autentiseringsapp", confirmed=True)
    codes = enrolment.recovery_codes_create(user=holder)
    page = context_for(holder).new_page()
    go(page, live_server, reverse("accounts:two_factor_recovery"))
    key_pages.check(page, "two-factor-recovery", who="cultural head")
    page.get_by_label(re.compile("^Reservkod")).fill("FEL-KOD")
    submit_and_wait(page, re.compile("^Fortsätt"), status=400)
    key_pages.check(page, "two-factor-recovery-errors", who="cultural head", errors=1)
    page.get_by_label(re.compile("^Reservkod")).fill(codes[0])
    submit_and_wait(page, re.compile("^Fortsätt"))
    go(page, live_server, reverse("accounts:recovery_codes"))
    key_pages.check(page, "recovery-codes-count", who="cultural head")
    submit_and_wait(page, "Skapa nya reservkoder")
    assert page.locator(".recovery-codes li").count() == 10
    key_pages.check(page, "recovery-codes-shown", who="cultural head")
    go(page, live_server, reverse("accounts:two_factor"))
    key_pages.check(page, "two-factor-on", who="cultural head")

    # The provider is down: the login page says so, in Swedish, and keeps the password form.
    oidc_provider.configure(issuer="http://127.0.0.1:9")
    page = browser.new_context(locale="sv-SE").new_page()
    go(page, live_server, reverse("accounts:oidc_login", args=["test"]))
    assert "Testleverantören svarar inte just nu" in page.inner_text("main")
    assert page.get_by_label("Lösenord").is_visible()
    key_pages.check(page, "login-provider-down", who="anonymous")
    page.context.close()

    key_pages.assert_all()
