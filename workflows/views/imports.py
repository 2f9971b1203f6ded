"""Import of earlier agreements: upload a spreadsheet, see the dry run row by
row, confirm. The file is refused by its size while it is received, before
anything of it is stored or parsed (``ImportSizeLimit``); what the dry run
read travels to the confirmation signed, and the service checks it all again
before it writes anything (cases.agreements.services.agreements_import)."""

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
    bytes are neither stored nor parsed, and the view says it was too large."""

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > imports.MAX_IMPORT_BYTES:
            self.request.import_file_too_large = True
            raise SkipFile
        return raw_data

    def file_complete(self, file_size):
        return None


class ImportForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Spreadsheet (XLSX or CSV)"),
        help_text=gettext_lazy("Made from the template; at most %(max)s and %(rows)s rows.")
        % {"max": filesizeformat(imports.MAX_IMPORT_BYTES), "rows": imports.MAX_IMPORT_ROWS},
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv"}),
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


@csrf_protect
def _import_agreements(request):
    form = ImportForm()
    plans = payload = None
    problems = []  # about the confirmation, shown at the top
    status = 200
    if request.method == "POST" and "payload" in request.POST:
        try:
            data = signing.loads(request.POST["payload"], salt=SALT, max_age=CONFIRM_MAX_AGE)
        except signing.BadSignature:
            problems.append(_("The dry run is too old or was changed. Upload the file again."))
            status = 400
        else:
            try:
                created = workflow_services.agreements_import(
                    actor=request.user, file_name=data["file"], rows=data["rows"]
                )
            except ValidationError as error:
                problems.extend(error.messages)
                status = 400
            else:
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
        elif form.is_valid():
            uploaded = form.cleaned_data["file"]
            try:
                rows = imports.read_spreadsheet(uploaded)
            except ValidationError as error:
                form.add_error("file", error.messages)
            else:
                plans = imports.check_rows(rows)
                if not plans:
                    form.add_error("file", _("The file holds no agreements."))
                    plans = None
                elif not any(plan.errors for plan in plans):
                    status = 200
                    payload = signing.dumps({"file": uploaded.name[:200], "rows": rows}, salt=SALT, compress=True)
    return render(
        request,
        "workflows/plans/import.html",
        {
            "form": form,
            "problems": problems,
            "plans": plans,
            "payload": payload,
            "error_count": sum(len(plan.errors) for plan in plans or ()),
            "can_manage": can_manage_plan(request.user),
            "columns": imports.COLUMNS,
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
