"""Import of earlier agreements over HTTP as a coordinator: the dry run and the
commit, with good files and each kind of bad one; the imported agreements in
the county overview and renewed."""

import csv
import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts import audit_reasons as reasons
from cases.agreements.imports import EXAMPLE_ROW, HEADERS, OPTIONAL_HEADERS
from cases.models import Agreement, CollaborationArea, Decision, PlanPeriod, Signature, Stage
from tests.workflows.helpers import login

pytestmark = pytest.mark.django_db

URL = "/arbete/plan/import/"


def row(kommunkod="2085", case="RD 2019/0042", **changes):
    values = dict(zip(HEADERS, EXAMPLE_ROW, strict=True))
    values.update({"kommunkod": kommunkod, "diarienummer": case, "titel": ""})
    values.update({k.replace("_", " "): v for k, v in changes.items()})
    return values


def xlsx(rows, headers=HEADERS, name="overenskommelser-2019.xlsx"):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(headers)
    for values in rows:
        sheet.append([values.get(h, "") for h in headers] if isinstance(values, dict) else values)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return SimpleUploadedFile(name, buffer.getvalue())


def csv_file(rows, headers=HEADERS, name="overenskommelser.csv"):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow(headers)
    for values in rows:
        writer.writerow([values.get(h, "") for h in headers] if isinstance(values, dict) else values)
    return SimpleUploadedFile(name, buffer.getvalue().encode("utf-8"))


def nothing_imported():
    return not Agreement.objects.exists() and not CollaborationArea.objects.exists()


@pytest.fixture
def as_coordinator(client, coordinator):
    return login(client, coordinator)


def test_dry_run_then_commit_creates_closed_agreements_that_show_in_the_county_and_renew(as_coordinator, coordinator):
    client = as_coordinator
    upload = xlsx([row(), row("2062", "RD 2019/0043", kommunens_beslutsorgan="Kultur- och fritidsnämnden")])
    response = client.post(URL, {"file": upload})
    assert response.status_code == 200
    page = response.content.decode()
    assert "2 överenskommelser skulle skapas" in page and "Ludvika" in page and "Mora" in page
    assert nothing_imported()  # a dry run writes nothing
    payload = response.context["payload"]

    response = client.post(URL, {"payload": payload, "confirm": "1"})
    assert response.status_code == 302
    ludvika, mora = Agreement.objects.order_by("case_number")
    assert (ludvika.case_number, ludvika.municipality.name, ludvika.stage) == ("RD 2019/0042", "Ludvika", Stage.CLOSED)
    assert ludvika.plan_period.name == "2019–2022" and str(ludvika.in_force_since) == "2019-04-22"
    assert [a.title for a in ludvika.active_areas()] == [
        "Kommunalt chefsnätverk inom kultur",
        "Kulturskolan i samverkan",
    ]
    assert Decision.objects.filter(agreement=mora, party="municipality").get().body == "Kultur- och fritidsnämnden"
    assert (
        Decision.objects.filter(agreement=ludvika).count() == 2
        and Signature.objects.filter(agreement=ludvika).count() == 2
    )
    why = reasons.imported_from(file_name="overenskommelser-2019.xlsx")
    assert why == "Importerad från overenskommelser-2019.xlsx"
    for model in (Agreement, CollaborationArea, Decision, Signature):
        rows = model.history.all()
        assert rows.exists() and {r.history_change_reason for r in rows} == {why}
        assert {r.history_user_id for r in rows} == {coordinator.pk}

    # Confirming the same dry run again imports nothing twice.
    response = client.post(URL, {"payload": payload, "confirm": "1"})
    assert response.status_code == 400 and "används redan" in response.content.decode()
    assert Agreement.objects.count() == 2

    period = PlanPeriod.objects.get(name="2019–2022")
    county = client.get(reverse("workflows:county"), {"plan_period": period.pk}).content.decode()
    assert "RD 2019/0042" in county and "RD 2019/0043" in county

    current = PlanPeriod.objects.get(name="2023–2026")
    response = client.post(reverse("workflows:agreement_renew", args=[ludvika.pk]), {"plan_period": current.pk})
    assert response.status_code == 302
    renewed = Agreement.objects.get(predecessor=ludvika)
    assert renewed.stage == Stage.DRAFTING and renewed.plan_period == current
    assert [a.title for a in renewed.active_areas()] == [a.title for a in ludvika.active_areas()]


def test_csv_works_too_and_the_template_downloads(as_coordinator):
    client = as_coordinator
    for fmt in ("xlsx", "csv"):
        response = client.get(reverse("workflows:import_template", args=[fmt]))
        assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    template = client.get(reverse("workflows:import_template", args=["csv"])).content.decode("utf-8-sig")
    assert template.splitlines()[0].split(";") == HEADERS + OPTIONAL_HEADERS
    response = client.post(URL, {"file": csv_file([row()])})
    assert response.status_code == 200 and response.context["payload"]
    assert client.post(URL, {"payload": response.context["payload"]}).status_code == 302
    assert Agreement.objects.get().municipality.name == "Ludvika"


def test_every_bad_row_is_told_in_swedish_and_nothing_is_written(as_coordinator):
    client = as_coordinator
    first = client.post(URL, {"file": xlsx([row("2080", "RD 2019/0001")])})
    assert client.post(URL, {"payload": first.context["payload"]}).status_code == 302  # Falun is already there
    upload = xlsx(
        [
            row("9999", "RD 2019/0100"),
            row("2085", "RD 2019/0101", regionens_beslutsdatum="2023-05-01"),
            row("2080", "RD 2019/0102"),
            row("2062", "RD 2019/0103"),
            row("2034", "RD 2019/0103"),
            row("2039", "RD 2019/0001"),
        ]
    )
    response = client.post(URL, {"file": upload})
    assert response.status_code == 400
    assert response.context["payload"] is None
    page = response.content.decode()
    for message in (
        "Okänd kommunkod 9999.",
        "Datumet 2023-05-01 i ”regionens beslutsdatum” ligger utanför planperioden 2019–2022.",
        "Falun har redan en överenskommelse för 2019–2022.",
        "Diarienumret RD 2019/0103 finns också på rad 5.",
        "Diarienumret RD 2019/0001 används redan.",
    ):
        assert message in page, message
    assert "Importera överenskommelserna" not in page
    assert Agreement.objects.count() == 1


def test_a_tampered_confirmation_is_refused(as_coordinator):
    response = as_coordinator.post(URL, {"payload": "eyJmaWxlIjoieCJ9:forged", "confirm": "1"})
    assert response.status_code == 400 and "Ladda upp filen igen" in response.content.decode()
    assert nothing_imported()


@pytest.mark.parametrize(
    "upload, message",
    [
        (SimpleUploadedFile("avtal.xlsx", b"%PDF-1.4 not a spreadsheet"), "Filen är inte ett kalkylark"),
        (SimpleUploadedFile("avtal.xlsx", b"PK\x03\x04 broken zip"), "Filen är inte ett kalkylark"),
        (SimpleUploadedFile("avtal.csv", b"\x00\x01\x02binary"), "Filen är inte ett kalkylark"),
        (SimpleUploadedFile("tom.csv", b""), "filen är tom"),
        (csv_file([row()], headers=["kommun", "år"]), "Kolumnerna stämmer inte med mallen"),
        (xlsx([row()], headers=HEADERS[:-1]), "saknas: samverkansområden"),
    ],
)
def test_files_that_are_not_the_template_are_refused(as_coordinator, upload, message):
    response = as_coordinator.post(URL, {"file": upload})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert nothing_imported()


def test_formulas_are_refused(as_coordinator):
    values = row()
    values["kommunkod"] = "=2000+85"
    response = as_coordinator.post(URL, {"file": xlsx([values])})
    assert response.status_code == 400 and "Cell A2 innehåller en formel" in response.content.decode()
    response = as_coordinator.post(URL, {"file": csv_file([values])})
    assert response.status_code == 400 and "Cell A2 innehåller en formel" in response.content.decode()
    assert nothing_imported()


def test_100000_rows_are_refused(as_coordinator):
    body = ";".join(HEADERS) + "\n" + "2085\n" * 100_000
    response = as_coordinator.post(URL, {"file": SimpleUploadedFile("stor.csv", body.encode())})
    assert response.status_code == 400 and "Filen har fler än 1000 rader" in response.content.decode()
    assert nothing_imported()


def test_a_50_mb_file_is_refused_before_it_is_parsed(as_coordinator, monkeypatch):
    from cases.agreements import imports

    def must_not_parse(*args, **kwargs):
        raise AssertionError("a file over the limit was parsed")

    monkeypatch.setattr(imports, "read_spreadsheet", must_not_parse)
    response = as_coordinator.post(URL, {"file": SimpleUploadedFile("stor.xlsx", b"PK\x03\x04" + b"0" * (50 << 20))})
    assert response.status_code == 400
    assert "Filen är större än 5,0\xa0MB" in response.content.decode()
    assert nothing_imported()


def test_municipal_users_and_auditors_cannot_import(client, mora_head, auditor):
    login(client, auditor)
    assert client.get(URL).status_code == 200
    assert client.post(URL, {"file": xlsx([row()])}).status_code == 403
    client.logout()
    login(client, mora_head)
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"file": xlsx([row()])}).status_code == 403
    assert nothing_imported()
