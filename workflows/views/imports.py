"""Import of earlier agreements: upload a spreadsheet, see the dry run row by
row, confirm. The file is refused by its size while it is received, before
anything of it is stored or parsed (``ImportSizeLimit``); what the dry run
read travels to the confirmation signed, and the service checks it all again
before it writes anything (workflows.services.agreements_import). Scanned
PDFs are checked in the dry run and, since nothing of a dry run is stored,
sent again with the confirmation; only the files the dry run checked (their
SHA-256 signed in the payload) are imported."""

import csv
import io

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from accounts.permissions import can_manage_plan, can_read_plan_administration
from cases.agreements import imports

from .. import services as workflow_services

SALT = "samverkan.agreements_import"
CONFIRM_MAX_AGE = 60 * 60


class ImportSizeLimit(FileUploadHandler):
    """Skips an uploaded file as soon as it passes the import's size limit: its
    bytes are neither stored nor parsed, and the view says it was too large.
    The spreadsheet may be MAX_IMPORT_BYTES; the scanned PDFs (field "scans")
    MAX_SCANS_BYTES together."""

    scans_received = 0

    def receive_data_chunk(self, raw_data, start):
        if self.field_name == "scans":
            self.scans_received += len(raw_data)
            if self.scans_received > imports.MAX_SCANS_BYTES:
                self.request.import_scans_too_large = True
                raise SkipFile
        elif start + len(raw_data) > imports.MAX_IMPORT_BYTES:
            self.request.import_file_too_large = True
            raise SkipFile
        return raw_data

    def file_complete(self, file_size):
        return None


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Any number of files (a list; empty when none is chosen)."""

    def clean(self, data, initial=None):
        files = data if isinstance(data, (list, tuple)) else [data] if data else []
        return [super(MultipleFileField, self).clean(item, initial) for item in files]


SCANS_HELP = gettext_lazy(
    "PDF files, or a ZIP file of them, each named in the column “%(column)s” of its row; "
    "at most %(max)s a PDF and %(total)s together."
) % {
    "column": imports.SCAN_COLUMN,
    "max": filesizeformat(imports.MAX_SCAN_BYTES),
    "total": filesizeformat(imports.MAX_SCANS_BYTES),
}


class ImportForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Spreadsheet (XLSX or CSV)"),
        help_text=gettext_lazy("Made from the template; at most %(max)s and %(rows)s rows.")
        % {"max": filesizeformat(imports.MAX_IMPORT_BYTES), "rows": imports.MAX_IMPORT_ROWS},
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv"}),
    )
    scans = MultipleFileField(
        label=gettext_lazy("Scanned signed agreements (optional)"),
        help_text=SCANS_HELP,
        required=False,
        widget=MultipleFileInput(attrs={"accept": ".pdf,.zip"}),
    )


# The confirmation's field ids differ from the upload form's on the same page.
CONFIRM_IDS = "id_confirm_%s"


class ConfirmScansForm(forms.Form):
    """The confirmation of a dry run with scanned PDFs: the same files again.
    Nothing of a dry run is stored (the file storage keeps every file it is
    given for ever), so the browser sends the scans once more; they must be
    the very files the dry run checked (their SHA-256 travels signed)."""

    scans = MultipleFileField(
        label=gettext_lazy("Choose the same scanned PDFs (or ZIP file) again"),
        help_text=gettext_lazy(
            "Nothing is stored before you confirm, so the files are sent again; they must be the ones just checked."
        ),
        required=False,
        widget=MultipleFileInput(attrs={"accept": ".pdf,.zip"}),
    )


@csrf_exempt
@login_required
def import_agreements(request):
    if not can_read_plan_administration(request.user):
        raise PermissionDenied
    if request.method == "POST" and not can_manage_plan(request.user):
        raise PermissionDenied
    request.upload_handlers.insert(0, ImportSizeLimit(request))
    return _import_agreements(request)


def _confirmed_scans(request, data, confirm_form):
    """The scans sent with the confirmation, if they are the dry run's; else
    None, with the reason on ``confirm_form``."""
    expected = data.get("scans") or {}
    if not expected:
        return None
    if getattr(request, "import_scans_too_large", False):
        confirm_form.add_error(
            "scans",
            _("The scanned PDFs are more than %(max)s together.") % {"max": filesizeformat(imports.MAX_SCANS_BYTES)},
        )
        return None
    if not confirm_form.is_valid():
        return None
    try:
        scans = imports.read_scans(confirm_form.cleaned_data["scans"])
    except ValidationError as error:
        confirm_form.add_error("scans", error.messages)
        return None
    differ = [name for name, sha256 in expected.items() if getattr(scans.get(name), "sha256", None) != sha256]
    if differ:
        confirm_form.add_error(
            "scans",
            _("Choose the same scanned PDFs as in the dry run; missing or changed: %(names)s.")
            % {"names": ", ".join(sorted(differ))},
        )
        return None
    return scans


@csrf_protect
def _import_agreements(request):
    form = ImportForm()
    confirm_form = ConfirmScansForm(auto_id=CONFIRM_IDS)
    plans = payload = None
    needs_scans = False
    problems = []  # about the confirmation, shown at the top
    status = 200
    if request.method == "POST" and "payload" in request.POST:
        try:
            data = signing.loads(request.POST["payload"], salt=SALT, max_age=CONFIRM_MAX_AGE)
        except signing.BadSignature:
            problems.append(_("The dry run is too old or was changed. Upload the file again."))
            status = 400
        else:
            confirm_form = ConfirmScansForm(request.POST, request.FILES, auto_id=CONFIRM_IDS)
            scans = _confirmed_scans(request, data, confirm_form)
            if data.get("scans") and scans is None:
                # Asked again, with the same signed dry run.
                payload, needs_scans, status = request.POST["payload"], True, 400
            else:
                try:
                    created = workflow_services.agreements_import(
                        actor=request.user, file_name=data["file"], rows=data["rows"], scans=scans
                    )
                except ValidationError as error:
                    problems.extend(error.messages)
                    status = 400
                    created = None
            if status == 200:
                messages.success(
                    request,
                    ngettext(
                        "One agreement imported from %(file)s.",
                        "%(count)s agreements imported from %(file)s.",
                        len(created),
                    )
                    % {"count": len(created), "file": data["file"]},
                )
                return redirect("workflows:agreements")
    elif request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        status = 400
        if getattr(request, "import_file_too_large", False):
            form.add_error(
                "file",
                _("The file is larger than %(max)s. Split it into smaller files.")
                % {"max": filesizeformat(imports.MAX_IMPORT_BYTES)},
            )
        elif getattr(request, "import_scans_too_large", False):
            form.add_error(
                "scans",
                _("The scanned PDFs are more than %(max)s together. Import the agreements in smaller groups.")
                % {"max": filesizeformat(imports.MAX_SCANS_BYTES)},
            )
        elif form.is_valid():
            uploaded, rows, scans = form.cleaned_data["file"], None, None
            try:
                rows = imports.read_spreadsheet(uploaded)
            except ValidationError as error:
                form.add_error("file", error.messages)
            try:
                scans = imports.read_scans(form.cleaned_data.get("scans") or [])
            except ValidationError as error:
                form.add_error("scans", error.messages)
            if rows is not None and scans is not None:
                plans = imports.check_rows(rows, scans=scans)
                unused = imports.unused_scans(plans, scans)
                if not plans:
                    form.add_error("file", _("The file holds no agreements."))
                    plans = None
                elif unused:
                    form.add_error(
                        "scans",
                        _("No row names %(names)s: name each scanned PDF in the column “%(column)s” of its row.")
                        % {"names": ", ".join(unused), "column": imports.SCAN_COLUMN},
                    )
                elif not any(plan.errors for plan in plans):
                    status = 200
                    used = {plan.scan.name.casefold(): plan.scan.sha256 for plan in plans if plan.scan}
                    needs_scans = bool(used)
                    payload = signing.dumps(
                        {"file": uploaded.name[:200], "rows": rows, "scans": used}, salt=SALT, compress=True
                    )
    return render(
        request,
        "workflows/plans/import.html",
        {
            "form": form,
            "confirm_form": confirm_form,
            "needs_scans": needs_scans,
            "problems": problems,
            "plans": plans,
            "payload": payload,
            "error_count": sum(len(plan.errors) for plan in plans or ()),
            "can_manage": can_manage_plan(request.user),
            "columns": imports.COLUMNS,
            "scan_column": imports.SCAN_COLUMN,
        },
        status=status,
    )


@login_required
def import_template(request, fmt):
    if not can_read_plan_administration(request.user):
        raise PermissionDenied
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    rows = imports.template_rows()
    if fmt == "csv":
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=";").writerows(rows)
        response = HttpResponse("\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8")
    elif fmt == "xlsx":
        import openpyxl

        workbook = openpyxl.Workbook()
        sheet = workbook.active
        sheet.title = "Överenskommelser"
        for row in rows:
            sheet.append(row)
        buffer = io.BytesIO()
        workbook.save(buffer)
        response = HttpResponse(
            buffer.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
    else:
        raise Http404
    response["Content-Disposition"] = f'attachment; filename="overenskommelser-mall.{fmt}"'
    return response
