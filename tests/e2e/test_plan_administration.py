"""The administration pages in a real browser: a coordinator imports earlier
agreements (template, dry run, confirmation) and walks the plan pages; an
administrator the people and organisation pages. axe-core (WCAG 2.0/2.1 A and
AA) finds no violation on any of them."""

import pytest
from django.urls import reverse

from accounts.models import Role
from cases.models import Agreement, PlanPeriod
from tests.factories import user_with_role

from .helpers import describe

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

CSV = (
    "kommunkod;planperiod;diarienummer;titel;regionens beslutsorgan;regionens beslutsdatum;regionens paragraf;"
    "kommunens beslutsorgan;kommunens beslutsdatum;kommunens paragraf;regionen undertecknade;"
    "regionens undertecknare;kommunen undertecknade;kommunens undertecknare;samverkansområden;skannad pdf\n"
    "2085;2019–2022;RD 2019/0042;;Kultur- och bildningsnämnden;2019-03-14;§ 12;Kommunstyrelsen;2019-04-02;§ 45;"
    "2019-04-20;Anna Berg, regiondirektör;2019-04-22;Per Holm, ordförande;Kulturskolan i samverkan;ludvika.pdf\n"
)
PDF = b"%PDF-1.4\n% Undertecknad 2019\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"


def clean(axe_scan, page, where):
    violations = axe_scan(page)
    assert violations == [], f"{where}:\n{describe(violations)}"


def test_a_coordinator_imports_earlier_agreements_in_the_browser(
    live_server, context_for, axe_scan, screenshot, tmp_path
):
    coordinator = user_with_role(Role.COORDINATOR, full_name="Anna Samordnare")
    page = context_for(coordinator).new_page()
    period = PlanPeriod.objects.get(name="2023–2026")
    for url in (
        reverse("workflows:plan_periods"),
        reverse("workflows:plan_period", args=[period.pk]),
        reverse("workflows:plan_priority", args=[period.priorities.first().pk]),
    ):
        page.goto(live_server.url + url)
        clean(axe_scan, page, url)

    page.goto(live_server.url + reverse("workflows:import_agreements"))
    assert page.locator("h1").inner_text() == "Importera tidigare överenskommelser", page.url
    clean(axe_scan, page, "import")
    upload = tmp_path / "ludvika-2019.csv"
    upload.write_text(CSV, encoding="utf-8")
    scan = tmp_path / "ludvika.pdf"
    scan.write_bytes(PDF)
    page.set_input_files("input[name=file]", str(upload))
    page.set_input_files("input[name=scans]", str(scan))
    with page.expect_navigation():
        page.click("button[name=dry_run]")
    assert "En överenskommelse skulle skapas." in page.content()
    assert "undertecknad kopia ludvika.pdf" in page.content()
    assert not Agreement.objects.exists()
    clean(axe_scan, page, "dry run")
    screenshot(page, "import-dry-run")
    # Nothing is stored before the confirmation: the same scan is chosen again.
    page.get_by_label("Välj samma skannade PDF-filer (eller ZIP-fil) igen").set_input_files(str(scan))
    with page.expect_navigation():
        page.click("button[name=confirm]")
    assert "En överenskommelse importerad från ludvika-2019.csv." in page.content()
    agreement = Agreement.objects.get()
    assert agreement.case_number == "RD 2019/0042" and agreement.municipality.name == "Ludvika"
    assert agreement.attachments.get().original_name == "ludvika.pdf"
    assert agreement.process.status == "DONE"  # closed: its process has ended

    # A bad file: the errors are shown, row by row, and nothing more is imported.
    page.goto(live_server.url + reverse("workflows:import_agreements"))
    upload.write_text(CSV.replace("2085;", "9999;").replace("0042", "0043"), encoding="utf-8")
    page.set_input_files("input[name=file]", str(upload))
    with page.expect_navigation():
        page.click("button[name=dry_run]")
    assert "Okänd kommunkod 9999." in page.content()
    assert "Den skannade PDF-filen ”ludvika.pdf” finns inte bland de uppladdade filerna." in page.content()
    assert page.locator("button[name=confirm]").count() == 0
    clean(axe_scan, page, "dry run with errors")
    assert Agreement.objects.count() == 1

    # The template downloads (in a second tab).
    other = page.context.new_page()
    other.goto(live_server.url + reverse("workflows:import_agreements"))
    with other.expect_download() as download:
        other.click("text=Excel (XLSX)")
    assert download.value.suggested_filename == "overenskommelser-mall.xlsx"


def test_the_people_and_organisation_pages_pass_axe(live_server, context_for, axe_scan):
    administrator = user_with_role(Role.ADMINISTRATOR, full_name="Ingrid Admin")
    user_with_role(Role.CULTURAL_HEAD, "Mora", full_name="Lars Mora")
    page = context_for(administrator).new_page()
    for url in (
        reverse("accounts:people"),
        reverse("accounts:person", args=[administrator.pk]),
        reverse("accounts:organisations"),
        reverse("accounts:organisation", args=[administrator.memberships.get().organisation_id]),
    ):
        page.goto(live_server.url + url)
        clean(axe_scan, page, url)
