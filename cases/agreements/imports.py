"""Import of earlier agreements from a spreadsheet (XLSX or CSV).

Three steps, each a plain function:

``read_spreadsheet(uploaded)``
    the file's rows as dicts of the template's columns, or a ValidationError
    saying what is wrong with the file as a whole: too large (checked before
    anything is parsed), not a spreadsheet, the wrong columns, too many rows,
    a formula. openpyxl reads XLSX (read-only, streaming; formulas are refused,
    not evaluated); the csv module reads CSV.
``check_rows(rows)``
    row by row, what would be created and every error, in the user's
    language (unknown kommunkod, dates outside the period, a municipality that
    already has an agreement for the period, duplicate case numbers, …). It
    writes nothing: the dry run.
``services.agreements_import``
    (cases.agreements.services) checks again and creates the agreements,
    closed or in force, in one transaction: all or nothing.
"""

import csv
import datetime
import hashlib
import io
import re
import zipfile
import zlib
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Organisation

from ..files import MAX_UPLOAD_BYTES
from .models import Agreement, Party, PlanPeriod, PlanPriority

MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_IMPORT_ROWS = 1000
# An XLSX file is a zip archive: its unpacked size is checked before openpyxl reads it (a zip bomb).
MAX_UNPACKED_BYTES = 50 * 1024 * 1024

# The template's columns, in order: (header, required value).
COLUMNS = [
    ("kommunkod", True),
    ("planperiod", True),
    ("diarienummer", True),
    ("titel", False),
    ("regionens beslutsorgan", False),
    ("regionens beslutsdatum", True),
    ("regionens paragraf", True),
    ("kommunens beslutsorgan", False),
    ("kommunens beslutsdatum", True),
    ("kommunens paragraf", True),
    ("regionen undertecknade", True),
    ("regionens undertecknare", False),
    ("kommunen undertecknade", True),
    ("kommunens undertecknare", False),
    ("samverkansområden", False),
]
HEADERS = [name for name, _required in COLUMNS]
# Optional: the file name of the agreement's scanned, signed PDF, uploaded beside
# the spreadsheet (read_scans). A file without the column imports no scans.
SCAN_COLUMN = "skannad pdf"
OPTIONAL_HEADERS = [SCAN_COLUMN]
DATE_COLUMNS = ("regionens beslutsdatum", "kommunens beslutsdatum", "regionen undertecknade", "kommunen undertecknade")
REGION_BODY = "Kultur- och bildningsnämnden"
EXAMPLE_ROW = [
    "2085",
    "2019–2022",
    "RD 2019/0042",
    "Överenskommelse om kultursamverkan Ludvika 2019–2022",
    REGION_BODY,
    "2019-03-14",
    "§ 12",
    "Kommunstyrelsen",
    "2019-04-02",
    "§ 45",
    "2019-04-20",
    "Anna Berg, regiondirektör",
    "2019-04-22",
    "Per Holm, kommunstyrelsens ordförande",
    "Kommunalt chefsnätverk inom kultur\nKulturskolan i samverkan",
]


class Refused(ValidationError):
    """The file as a whole cannot be imported."""


# ---------------------------------------------------------------------------
# The scanned PDFs (optional): PDF files, or ZIP archives of them
# ---------------------------------------------------------------------------

MAX_SCAN_BYTES = MAX_UPLOAD_BYTES  # one PDF, as any uploaded file (cases.files)
MAX_SCANS_BYTES = 100 * 1024 * 1024  # all the uploaded scans together, and all a ZIP unpacks to
MAX_SCAN_FILES = MAX_IMPORT_ROWS  # at most one per agreement
# Left out of a ZIP without a word: what macOS and Windows add when they pack a folder.
JUNK = re.compile(r"(^|/)(__MACOSX/|\._)|(^|/)(\.DS_Store|Thumbs\.db|desktop\.ini)$", re.IGNORECASE)


@dataclass
class Scan:
    """One uploaded scanned PDF: its bytes, or why it cannot be imported."""

    name: str
    data: bytes = b""
    sha256: str = ""
    error: str = ""


def _scan(name, data, *, too_large=False) -> Scan:
    scan = Scan(name=name)
    if too_large:
        scan.error = _("The file %(name)s is larger than %(max)s; a scanned PDF may be at most %(max)s.") % {
            "name": name,
            "max": filesizeformat(MAX_SCAN_BYTES),
        }
    elif not name.lower().endswith(".pdf") or not data.startswith(b"%PDF-"):
        scan.error = _("The file %(name)s is not a PDF. Scan the signed agreement to PDF.") % {"name": name}
    else:
        scan.data = data
        scan.sha256 = hashlib.sha256(data).hexdigest()
    return scan


def _unsafe_path(name):
    parts = name.split("/")
    return name.startswith("/") or "\\" in name or ":" in parts[0] or any(part in ("..", ".") for part in parts)


def _zip_scans(archive_name, fileobj, budget):
    """The PDFs in a ZIP archive, checked before and while they are unpacked:
    entries, paths and sizes as declared, then the bytes actually read (a zip
    bomb lies about its sizes)."""
    try:
        archive = zipfile.ZipFile(fileobj)
        infos = [info for info in archive.infolist() if not info.is_dir() and not JUNK.search(info.filename)]
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise Refused(_("%(name)s is not a ZIP archive that can be read.") % {"name": archive_name}) from exc
    if len(infos) > MAX_SCAN_FILES:
        raise Refused(
            _("%(name)s holds more than %(max)s files: import at most one scanned PDF per agreement.")
            % {"name": archive_name, "max": MAX_SCAN_FILES}
        )
    for info in infos:
        if _unsafe_path(info.filename):
            raise Refused(
                _("%(name)s holds the path “%(path)s”, which points outside the archive. Pack the PDFs again.")
                % {"name": archive_name, "path": info.filename[:200]}
            )
        if info.flag_bits & 0x1:
            raise Refused(_("%(name)s is encrypted. Pack the PDFs without a password.") % {"name": archive_name})
    if sum(info.file_size for info in infos) > budget:
        raise Refused(
            _("%(name)s unpacks to more than %(max)s.") % {"name": archive_name, "max": filesizeformat(MAX_SCANS_BYTES)}
        )
    scans = []
    for info in infos:
        name = info.filename.rsplit("/", 1)[-1]
        try:
            with archive.open(info) as entry:
                data = entry.read(min(MAX_SCAN_BYTES, budget) + 1)
        except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError, EOFError, zlib.error) as exc:
            raise Refused(
                _("%(name)s cannot be unpacked (%(entry)s is damaged).") % {"name": archive_name, "entry": name}
            ) from exc
        if len(data) > budget:
            raise Refused(
                _("%(name)s unpacks to more than %(max)s.")
                % {"name": archive_name, "max": filesizeformat(MAX_SCANS_BYTES)}
            )
        budget -= len(data)
        scans.append(_scan(name, data, too_large=len(data) > MAX_SCAN_BYTES))
    return scans, budget


def read_scans(uploads) -> dict[str, Scan]:
    """The scanned PDFs uploaded beside the spreadsheet, by file name (without
    case): each PDF file as it is, each ZIP archive's PDFs (any folders in it
    left out of the names). A PDF that is not one or too large carries its
    error, for the rows that name it; what cannot be read at all (a broken or
    encrypted ZIP, a path out of the archive, too many files, more than
    MAX_SCANS_BYTES) raises Refused. Nothing is stored."""
    received, budget = 0, MAX_SCANS_BYTES  # the files as uploaded; the PDFs they come to, unpacked
    scans = []
    for uploaded in uploads:
        name = (uploaded.name or "").rsplit("/", 1)[-1]
        received += uploaded.size
        if received > MAX_SCANS_BYTES or (uploaded.size > budget and not name.lower().endswith(".zip")):
            raise Refused(
                _("The scanned PDFs are more than %(max)s together.") % {"max": filesizeformat(MAX_SCANS_BYTES)}
            )
        uploaded.seek(0)
        if name.lower().endswith(".zip"):  # by its name: a "PDF" that is a ZIP is not a PDF
            found, budget = _zip_scans(name, uploaded, budget)
            scans.extend(found)
        else:
            data = uploaded.read(MAX_SCAN_BYTES + 1)
            budget -= uploaded.size
            scans.append(_scan(name, data, too_large=uploaded.size > MAX_SCAN_BYTES))
    if len(scans) > MAX_SCAN_FILES:
        raise Refused(_("More than %(max)s scanned PDFs: import at most one per agreement.") % {"max": MAX_SCAN_FILES})
    by_name = {}
    for scan in scans:
        key = scan.name.casefold()
        if key in by_name:
            raise Refused(
                _("Two of the uploaded files are named %(name)s. Give each PDF its own name.") % {"name": scan.name}
            )
        by_name[key] = scan
    return by_name


def unused_scans(plans, scans) -> list[str]:
    """The names of uploaded scans that no row names."""
    named = {plan.values.get(SCAN_COLUMN, "").strip().casefold() for plan in plans}
    return sorted(scan.name for key, scan in (scans or {}).items() if key not in named)


# ---------------------------------------------------------------------------
# Reading the file
# ---------------------------------------------------------------------------


def _cell_text(value):
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _too_many_rows():
    return Refused(
        _("The file has more than %(max)s rows. Import at most %(max)s agreements at a time.")
        % {"max": MAX_IMPORT_ROWS}
    )


def _read_xlsx(data: bytes):
    import openpyxl  # only here: the rest of the application does not need it loaded

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise Refused(_("The file is not a spreadsheet. Upload an XLSX or CSV file made from the template.")) from exc
    if unpacked > MAX_UNPACKED_BYTES:
        raise Refused(_("The spreadsheet unpacks to more than %(max)s.") % {"max": filesizeformat(MAX_UNPACKED_BYTES)})
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise Refused(_("The file is not a spreadsheet. Upload an XLSX or CSV file made from the template.")) from exc
    try:
        sheet = workbook.worksheets[0]
        rows = []
        for row in sheet.iter_rows():
            values = []
            for cell in row:
                if getattr(cell, "data_type", None) == "f":
                    raise Refused(
                        _("Cell %(cell)s holds a formula. Save the values instead of formulas and upload again.")
                        % {"cell": cell.coordinate}
                    )
                values.append(_cell_text(cell.value))
            rows.append(values)
            if len(rows) > MAX_IMPORT_ROWS + 1:
                raise _too_many_rows()
        return rows
    finally:
        workbook.close()


def _read_csv(data: bytes):
    if b"\x00" in data[:4096]:
        raise Refused(_("The file is not a spreadsheet. Upload an XLSX or CSV file made from the template."))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise Refused(
                _("The file is not a spreadsheet. Upload an XLSX or CSV file made from the template.")
            ) from exc
    first_line = text.split("\n", 1)[0]
    delimiter = max(";,\t", key=first_line.count)
    rows = []
    try:
        for number, row in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), start=1):
            for column, value in enumerate(row):
                if value.strip().startswith("="):
                    raise Refused(
                        _("Cell %(cell)s holds a formula. Save the values instead of formulas and upload again.")
                        % {"cell": f"{_column_letter(column)}{number}"}
                    )
            rows.append([value.strip() for value in row])
            if len(rows) > MAX_IMPORT_ROWS + 1:
                raise _too_many_rows()
    except csv.Error as exc:
        raise Refused(_("The file is not a spreadsheet. Upload an XLSX or CSV file made from the template.")) from exc
    return rows


def _column_letter(index):
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def check_size(size):
    if not size:
        raise Refused(_("The file is empty."))
    if size > MAX_IMPORT_BYTES:
        raise Refused(
            _("The file is %(size)s; a spreadsheet to import may be at most %(max)s.")
            % {"size": filesizeformat(size), "max": filesizeformat(MAX_IMPORT_BYTES)}
        )


def read_spreadsheet(uploaded) -> list[dict]:
    """The rows of an uploaded XLSX or CSV file as {column: text}, skipping empty rows.
    Raises Refused for a file that cannot be imported at all; its size is checked
    before a byte of it is parsed."""
    check_size(uploaded.size)
    uploaded.seek(0)
    data = uploaded.read(MAX_IMPORT_BYTES + 1)
    check_size(len(data))
    name = (uploaded.name or "").lower()
    is_zip = data.startswith(b"PK\x03\x04")
    if name.endswith(".xlsx") != is_zip or not (name.endswith(".xlsx") or name.endswith(".csv")):
        raise Refused(_("The file is not a spreadsheet. Upload an XLSX or CSV file made from the template."))
    table = _read_xlsx(data) if is_zip else _read_csv(data)
    table = [row for row in table if any(value for value in row)]
    if not table:
        raise Refused(_("The file is empty."))
    header = [value.strip().lower() for value in table[0]]
    missing = [name for name in HEADERS if name not in header]
    unknown = [name for name in header if name and name not in HEADERS + OPTIONAL_HEADERS]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(_("missing: %(columns)s") % {"columns": ", ".join(missing)})
        if unknown:
            parts.append(_("unknown: %(columns)s") % {"columns": ", ".join(unknown)})
        raise Refused(
            _("The columns do not match the template (%(problems)s). Download the template and use its columns.")
            % {"problems": "; ".join(parts)}
        )
    if len(table) - 1 > MAX_IMPORT_ROWS:
        raise _too_many_rows()
    index = {name: header.index(name) for name in HEADERS + OPTIONAL_HEADERS if name in header}
    return [{name: (row[i] if i < len(row) else "") for name, i in index.items()} for row in table[1:]]


# ---------------------------------------------------------------------------
# Checking the rows (the dry run)
# ---------------------------------------------------------------------------

AREA_LINE = re.compile(r"^(?P<title>.*?)\s*(?:\[(?P<codes>[^\]]*)\])?\s*$")


@dataclass
class AreaPlan:
    title: str
    priorities: list = field(default_factory=list)


@dataclass
class RowPlan:
    """One row: what would be created, and what is wrong with it."""

    number: int  # the row's number in the spreadsheet (the header is row 1)
    values: dict
    errors: list = field(default_factory=list)
    municipality: Organisation | None = None
    plan_period: PlanPeriod | None = None
    case_number: str = ""
    title: str = ""
    stage: str = ""
    decisions: dict = field(default_factory=dict)  # party -> {body, meeting_date, paragraph}
    signatures: dict = field(default_factory=dict)  # party -> {signatory_name, signatory_title, signed_on}
    areas: list = field(default_factory=list)
    scan: Scan | None = None  # the scanned, signed agreement, stored as the signatures' signed copy


def _parse_date(text):
    text = (text or "").strip()
    for fmt in ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%d/%m/%Y", "%d.%m.%Y"):
        try:
            return datetime.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _signatory(text):
    name, _sep, title = (text or "").partition(",")
    return name.strip() or "–", title.strip() or "–"


def check_rows(rows: list[dict], scans: dict | None = None) -> list[RowPlan]:
    """Check every row against the template's rules and the database, and the
    scanned PDF each names against ``scans`` (read_scans). Writes nothing."""
    from .models import Stage
    from .services import normalise_paragraph

    municipalities = {o.kommunkod: o for o in Organisation.objects.filter(kind=Organisation.Kind.MUNICIPALITY)}
    periods = {p.name: p for p in PlanPeriod.objects.all()}
    priorities = {}
    for p in PlanPriority.objects.all():
        priorities[(p.plan_period_id, p.code)] = p
    today = timezone.localdate()
    # What the database holds, read once for all rows (not two queries per row).
    wanted_numbers = {" ".join(values.get("diarienummer", "").split()) for values in rows}
    numbers_in_use = set(Agreement.objects.filter(case_number__in=wanted_numbers).values_list("case_number", flat=True))
    live_pairs = set(Agreement.objects.live().values_list("municipality_id", "plan_period_id"))
    seen_numbers, seen_pairs, seen_scans = {}, {}, {}
    plans = []
    for number, values in enumerate(rows, start=2):
        plan = RowPlan(number=number, values=values)
        errors = plan.errors
        for name, required in COLUMNS:
            if required and not values.get(name, "").strip():
                errors.append(_("The column “%(column)s” is empty.") % {"column": name})
        code = values.get("kommunkod", "").strip()
        plan.municipality = municipalities.get(code)
        if code and plan.municipality is None:
            errors.append(_("Unknown kommunkod %(code)s.") % {"code": code})
        period_name = values.get("planperiod", "").strip().replace("-", "–")
        plan.plan_period = periods.get(period_name)
        if period_name and plan.plan_period is None:
            errors.append(_("Unknown plan period %(period)s.") % {"period": values.get("planperiod")})
        plan.case_number = " ".join(values.get("diarienummer", "").split())
        if plan.case_number:
            if len(plan.case_number) > 30:
                errors.append(_("The case number %(case)s is too long.") % {"case": plan.case_number[:40]})
            elif plan.case_number in seen_numbers:
                errors.append(
                    _("The case number %(case)s is also on row %(row)s.")
                    % {"case": plan.case_number, "row": seen_numbers[plan.case_number]}
                )
            elif plan.case_number in numbers_in_use:
                errors.append(_("The case number %(case)s is already in use.") % {"case": plan.case_number})
            seen_numbers.setdefault(plan.case_number, number)
        dates = {}
        for name in DATE_COLUMNS:
            text = values.get(name, "").strip()
            if not text:
                continue
            day = _parse_date(text)
            if day is None:
                errors.append(
                    _("“%(value)s” in “%(column)s” is not a date; write it as 2019-04-22.")
                    % {"value": text, "column": name}
                )
            elif day > today:
                errors.append(_("The date %(date)s in “%(column)s” is in the future.") % {"date": day, "column": name})
            elif plan.plan_period is not None and not plan.plan_period.contains(day):
                errors.append(
                    _("The date %(date)s in “%(column)s” is outside the plan period %(period)s.")
                    % {"date": day, "column": name, "period": plan.plan_period}
                )
            else:
                dates[name] = day
        paragraphs = {}
        for party, column in ((Party.REGION, "regionens paragraf"), (Party.MUNICIPALITY, "kommunens paragraf")):
            text = values.get(column, "").strip()
            if text:
                try:
                    paragraphs[party] = normalise_paragraph(text)
                except ValidationError:
                    errors.append(
                        _("“%(value)s” in “%(column)s” is not a paragraph; write it as § 45.")
                        % {"value": text, "column": column}
                    )
        if plan.municipality is not None and plan.plan_period is not None:
            pair = (plan.municipality.pk, plan.plan_period.pk)
            if pair in seen_pairs:
                errors.append(
                    _("%(municipality)s has another agreement for %(period)s on row %(row)s.")
                    % {"municipality": plan.municipality, "period": plan.plan_period, "row": seen_pairs[pair]}
                )
            elif pair in live_pairs:
                errors.append(
                    _("%(municipality)s already has an agreement for %(period)s.")
                    % {"municipality": plan.municipality, "period": plan.plan_period}
                )
            seen_pairs.setdefault(pair, number)
        wanted_scan = values.get(SCAN_COLUMN, "").strip()
        if wanted_scan:
            key = wanted_scan.casefold()
            scan = (scans or {}).get(key)
            if scan is None:
                errors.append(
                    _("The scanned PDF “%(name)s” is not among the uploaded files.") % {"name": wanted_scan[:200]}
                )
            elif scan.error:
                errors.append(scan.error)
            elif key in seen_scans:
                errors.append(
                    _("The scanned PDF “%(name)s” is also named on row %(row)s.")
                    % {"name": scan.name, "row": seen_scans[key]}
                )
            else:
                plan.scan = scan
            seen_scans.setdefault(key, number)
        for line in values.get("samverkansområden", "").splitlines():
            if not line.strip():
                continue
            match = AREA_LINE.match(line.strip())
            area = AreaPlan(title=match["title"].strip()[:300])
            for wanted in (match["codes"] or "").split(","):
                wanted = wanted.strip()
                if not wanted or plan.plan_period is None:
                    continue
                found = priorities.get((plan.plan_period.pk, wanted))
                if found is None:
                    errors.append(
                        _("The plan period %(period)s has no priority with the code %(code)s.")
                        % {"period": plan.plan_period, "code": wanted}
                    )
                else:
                    area.priorities.append(found)
            if area.title:
                plan.areas.append(area)
        if not errors:
            municipality, period = plan.municipality, plan.plan_period
            plan.title = values.get("titel", "").strip()[:300] or _(
                "Agreement on cultural cooperation %(municipality)s %(period)s"
            ) % {"municipality": municipality.name, "period": period.name}
            plan.stage = Stage.CLOSED if period.ends_on < today else Stage.IN_FORCE
            plan.decisions = {
                Party.REGION: {
                    "body": values.get("regionens beslutsorgan", "").strip()[:200] or REGION_BODY,
                    "meeting_date": dates["regionens beslutsdatum"],
                    "paragraph": paragraphs[Party.REGION],
                },
                Party.MUNICIPALITY: {
                    "body": values.get("kommunens beslutsorgan", "").strip()[:200]
                    or getattr(municipality, "deciding_body", "")
                    or "Kommunstyrelsen",
                    "meeting_date": dates["kommunens beslutsdatum"],
                    "paragraph": paragraphs[Party.MUNICIPALITY],
                },
            }
            for party, date_column, name_column in (
                (Party.REGION, "regionen undertecknade", "regionens undertecknare"),
                (Party.MUNICIPALITY, "kommunen undertecknade", "kommunens undertecknare"),
            ):
                name, title = _signatory(values.get(name_column, ""))
                plan.signatures[party] = {
                    "signatory_name": name[:200],
                    "signatory_title": title[:200],
                    "signed_on": dates[date_column],
                }
        plans.append(plan)
    return plans


EXAMPLE_SCAN = "ludvika-2019-2022.pdf"


def template_rows():
    """The template's header and one example row (with the optional scan column)."""
    return [HEADERS + OPTIONAL_HEADERS, EXAMPLE_ROW + [EXAMPLE_SCAN]]
