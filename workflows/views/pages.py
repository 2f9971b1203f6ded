"""The pages around the steps: inbox, queue, archive, the agreement list and the
agreement page, and the coordinator's actions (open, withdraw, due dates,
attachments). Every read goes through a selector scoped to the user."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task

from accounts.models import Organisation
from accounts.permissions import (
    Action,
    can_act_for,
    can_attach,
    can_do_anywhere,
    can_record_paper_signature,
    can_view_agreement,
    start_page,
    visible_municipality_ids,
    who_can,
)
from cases.agreements import selectors as case_selectors
from cases.agreements import services as case_services
from cases.agreements import signing_providers
from cases.agreements.documents import render_follow_up_pdf
from cases.agreements.forms import (
    AgreementFilterForm,
    AttachmentForm,
    OpenAgreementForm,
    PaperSignatureForm,
    VerifyDocumentForm,
    WithdrawForm,
)
from cases.agreements.services import RENEWABLE_STAGES
from cases.agreements.verification import verify_pdf
from cases.exceptions import StepNotAllowed
from cases.forms import apply_errors
from cases.meetings.selectors import dialogue_for_agreement
from cases.workdays import day_off_reason
from storage.downloads import verified_file_response

from .. import selectors, services
from ..forms import DueDateForm, HandOverForm
from ..process_map import process_map
from .conflict import conflict
from .overview import own_overview

PAGE_SIZE = 50


def _page(request, queryset):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


@login_required
def home(request):
    """Each role lands where its work is (accounts.permissions.start_page)."""
    return redirect(start_page(request.user))


@login_required
def inbox(request):
    tasks = _page(request, selectors.IdsThenRows(selectors.inbox(request.user)))
    return render(
        request,
        "workflows/inbox.html",
        {"page": tasks, "today": timezone.localdate(), "tab": "inbox", "own_overview": own_overview(request.user)},
    )


@login_required
def queue(request):
    tasks = _page(request, selectors.IdsThenRows(selectors.queue(request.user)))
    return render(request, "workflows/queue.html", {"page": tasks, "today": timezone.localdate(), "tab": "queue"})


@login_required
def archive(request):
    tasks = _page(request, selectors.IdsThenRows(selectors.archive(request.user)))
    return render(request, "workflows/archive.html", {"page": tasks, "tab": "archive"})


@login_required
def agreement_list(request):
    ids = visible_municipality_ids(request.user)
    municipalities = Organisation.objects.filter(kind=Organisation.Kind.MUNICIPALITY).order_by("name")
    if ids is not None:
        municipalities = municipalities.filter(pk__in=ids)
    form = AgreementFilterForm(request.GET or None, municipalities=municipalities)
    filters = form.cleaned_data if form.is_valid() else {}
    agreements = case_selectors.agreements_for(
        request.user,
        q=filters.get("q", ""),
        plan_period=filters.get("plan_period"),
        municipality=filters.get("municipality"),
        stage=filters.get("stage", ""),
    )
    if filters.get("overdue"):
        agreements = agreements.filter(
            Exists(selectors.overdue_steps().filter(process__agreementprocess__agreement=OuterRef("pk")))
        )
    # Newest first by id, which follows the time of opening: the primary key's
    # index serves the page without sorting every agreement.
    page = _page(request, case_selectors.agreement_rows(agreements.order_by("-pk")))
    page.object_list = selectors.mark_overdue(page.object_list)
    return render(
        request,
        "workflows/agreement_list.html",
        {"form": form, "page": page, "can_open": can_do_anywhere(request.user, Action.DRAFT)},
    )


@login_required
def agreement_detail(request, pk):
    page = case_selectors.agreement_page_for(request.user, pk)
    agreement = page.agreement
    open_steps, done_steps = selectors.steps_of(agreement)
    for task in open_steps:
        task.node = task.flow_task
        task.can_take = task.node.can_execute(request.user, task, agreement.municipality)
        task.overdue = selectors.is_overdue(task)
        task.who = task.owner.full_name if task.owner else who_can(task.node.action, agreement.municipality)
    is_coordinator = can_act_for(request.user, agreement.municipality, Action.DRAFT)
    return render(
        request,
        "workflows/agreement_detail.html",
        {
            "agreement": agreement,
            "open_steps": open_steps,
            "done_steps": done_steps,
            "process_map": process_map(agreement, open_steps, done_steps),
            "can_withdraw": can_act_for(request.user, agreement.municipality, Action.WITHDRAW)
            and not agreement.is_final,
            "can_change_due": is_coordinator,
            "can_renew": is_coordinator and agreement.stage in RENEWABLE_STAGES,
            "follow_ups": page.follow_ups,
            "can_attach": can_attach(request.user, agreement) and not agreement.is_final,
            "attachment_form": AttachmentForm(),
            "due_form": DueDateForm(),
            "dialogue": dialogue_for_agreement(request.user, agreement),
            "signed_production": page.signed_production,  # once both have signed
            # The signing steps a coordinator may take as a registered paper signature.
            "paper_signable": [
                task.flow_task.name.removeprefix("sign_")
                for task in open_steps
                if task.flow_task.name.startswith("sign_")
                and can_record_paper_signature(request.user, agreement.municipality)
                and signing_providers.provider("paper") is not None
            ],
        },
    )


@login_required
def agreement_open(request):
    if not can_do_anywhere(request.user, Action.DRAFT):
        raise PermissionDenied
    form = OpenAgreementForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            agreement = services.agreement_open(actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(
                request,
                _("Agreement %(case)s opened. Write its collaboration areas in the draft step.")
                % {"case": agreement.case_number},
            )
            return redirect("workflows:agreement", pk=agreement.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "workflows/agreement_open.html", {"form": form}, status=status)


@login_required
def agreement_withdraw(request, pk):
    agreement = case_selectors.agreement_for(request.user, pk)
    if not can_act_for(request.user, agreement.municipality, Action.WITHDRAW):
        raise PermissionDenied
    form = WithdrawForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.agreement_withdraw(actor=request.user, agreement=agreement, reason=form.cleaned_data["reason"])
        except ValidationError as error:
            apply_errors(form, error)
        except StepNotAllowed as error:
            return conflict(request, agreement, error.message)
        else:
            messages.success(request, _("The agreement has been withdrawn."))
            return redirect("workflows:agreement", pk=agreement.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "workflows/agreement_withdraw.html", {"agreement": agreement, "form": form}, status=status)


@login_required
def paper_signature(request, pk, party):
    """A coordinator records a signatory's paper signature, with the scan: the
    party's signing step is taken as a "registered paper signature"."""
    from cases.models import Party

    from ..runner import open_task, run_step

    agreement = case_selectors.agreement_for(request.user, pk)
    provider = signing_providers.provider("paper")
    if party not in Party.values or provider is None:
        raise Http404
    party = Party(party)
    if not can_record_paper_signature(request.user, agreement.municipality):
        raise PermissionDenied
    step_name = f"sign_{party.value}"
    try:
        open_task(agreement, step_name)
    except Task.DoesNotExist:
        return conflict(request, agreement, _("This party's signing step is not open."))
    document = case_services.current_decision_material(agreement)
    shown = provider.begin(request=request, agreement=agreement, party=party)
    form = PaperSignatureForm(
        request.POST or None,
        request.FILES or None,
        signatories=shown["signatories"],
        initial={"document_sha256": document.sha256 if document else ""},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        proof = provider.complete(request=request, agreement=agreement, party=party, data=data)
        try:
            run_step(
                agreement=agreement,
                step_name=step_name,
                actor=request.user,
                perform=lambda: case_services.signature_record(
                    actor=request.user,
                    agreement=agreement,
                    party=party,
                    auth_method=proof.method,
                    signatory=proof.signatory,
                    signed_copy_file=proof.signed_copy_file,
                    document_sha256=data.get("document_sha256") or "",
                ),
            )
        except ValidationError as error:
            apply_errors(form, error)
        except StepNotAllowed as error:
            return conflict(request, agreement, error.message)
        else:
            messages.success(request, _("The paper signature has been registered."))
            return redirect("workflows:agreement", pk=agreement.pk)
    status = 400 if request.method == "POST" else 200
    context = {"agreement": agreement, "form": form, "party": party, "document": document}
    return render(request, "workflows/paper_signature.html", context, status=status)


@login_required
def step_due_date(request, pk, task_pk):
    agreement = case_selectors.agreement_for(request.user, pk)  # 404 before anything else
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    task = Task.objects.filter(pk=task_pk, process__agreementprocess__agreement=agreement).first()
    if task is None:
        raise Http404
    if not can_act_for(request.user, agreement.municipality, Action.DRAFT):
        raise PermissionDenied
    form = DueDateForm(request.POST)
    if form.is_valid():
        try:
            deadline = services.step_change_due_date(actor=request.user, task=task, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        except StepNotAllowed as error:
            return conflict(request, agreement, error.message)
        else:
            if deadline.moved_from:
                messages.warning(
                    request,
                    _(
                        "%(requested)s is %(day_off)s, not a working day: the due date was moved "
                        "to the next working day, %(due_on)s."
                    )
                    % {
                        "requested": formats.date_format(deadline.moved_from, "j F Y"),
                        "day_off": day_off_reason(deadline.moved_from),
                        "due_on": formats.date_format(deadline.due_on, "l j F Y"),
                    },
                )
            else:
                messages.success(request, _("The due date has been changed."))
            return redirect("workflows:agreement", pk=agreement.pk)
    return render(request, "workflows/due_date.html", {"agreement": agreement, "task": task, "form": form}, status=400)


@login_required
def attachment_upload(request, pk):
    agreement = case_selectors.agreement_for(request.user, pk)  # 404 before anything else
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not can_attach(request.user, agreement):
        raise PermissionDenied
    form = AttachmentForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            case_services.attachment_add(actor=request.user, agreement=agreement, uploaded=form.cleaned_data["file"])
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, _("The file has been attached."))
            return redirect("workflows:agreement", pk=agreement.pk)
    return render(request, "workflows/attachment_upload.html", {"agreement": agreement, "form": form}, status=400)


@login_required
def document_download(request, pk):
    """A frozen document of an agreement (the decision material), checked against its SHA-256."""
    document = case_selectors.document_for(request.user, pk)
    return verified_file_response(
        request,
        document.file,
        sha256=document.sha256,
        filename=document.filename,
        content_type="application/pdf",
        about=document,
    )


def pdf_response(data: bytes, filename: str):
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
def follow_up_pdf(request, pk):
    """A year's follow-up as PDF/A, rendered on request (a fraction of a second; README)."""
    follow_up = case_selectors.follow_up_for(request.user, pk)
    number = follow_up.agreement.case_number.replace(" ", "-").replace("/", "-")
    return pdf_response(render_follow_up_pdf(follow_up), f"{number}-uppfoljning-{follow_up.year}.pdf")


@login_required
def verify_document(request):
    """Upload a PDF: was it issued by the system, and is it unchanged? Writes nothing.
    The agreement it belongs to is named only to those who may see it."""
    form = VerifyDocumentForm(request.POST or None, request.FILES or None)
    verdict = None
    if request.method == "POST" and form.is_valid():
        verdict = verify_pdf(form.cleaned_data["file"])
        if not verdict.ok and not verdict.sha256:  # not a PDF, cut short, too large, empty
            form.add_error("file", verdict.message)
            verdict = None
    document = verdict.document if verdict else None
    context = {
        "form": form,
        "verdict": verdict,
        "document": document if document and can_view_agreement(request.user, document.agreement) else None,
    }
    status = 400 if request.method == "POST" and not form.is_valid() else 200
    return render(request, "workflows/verify_document.html", context, status=status)


@login_required
def attachment_download(request, pk):
    attachment = case_selectors.attachment_for(request.user, pk)
    return verified_file_response(
        request,
        attachment.file,
        sha256=attachment.sha256,
        filename=attachment.original_name,
        content_type=attachment.content_type,
        about=attachment,
    )


def _task_of(agreement, task_pk):
    task = (
        Task.objects.select_related("owner").filter(pk=task_pk, process__agreementprocess__agreement=agreement).first()
    )
    if task is None or not hasattr(task.flow_task, "action"):
        raise Http404
    return task


@login_required
def step_take(request, pk, task_pk):
    """Take an open step (viewflow's assign): others see who works on it."""
    agreement = case_selectors.agreement_for(request.user, pk)  # 404 before anything else
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    task = _task_of(agreement, task_pk)
    try:
        services.step_take(actor=request.user, task=task)
    except StepNotAllowed as error:
        return conflict(request, agreement, error.message)
    messages.success(request, _("You have taken the step: others see that you are working on it."))
    return redirect("workflows:step", process_pk=task.process_id, step=task.flow_task.name, task_pk=task.pk)


@login_required
def step_hand_over(request, pk, task_pk):
    """A coordinator releases a taken step or hands it to someone who may take it."""
    from accounts.models import User
    from accounts.permissions import users_who_can

    agreement = case_selectors.agreement_for(request.user, pk)  # 404 before anything else
    task = _task_of(agreement, task_pk)
    if not can_act_for(request.user, agreement.municipality, Action.DRAFT):
        raise PermissionDenied
    if task.status not in ("NEW", "ASSIGNED"):
        return conflict(request, agreement, _("This step is no longer open: the agreement has moved on."))
    if task.owner_id is None:
        return conflict(request, agreement, _("Nobody has taken this step: there is nothing to hand over."))
    candidates = User.objects.filter(
        pk__in=[u.pk for u in users_who_can(task.flow_task.action, agreement.municipality) if u.pk != task.owner_id]
    ).order_by("full_name", "email")
    form = HandOverForm(request.POST or None, candidates=candidates)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.step_hand_over(actor=request.user, task=task, **form.cleaned_data)
            except ValidationError as error:
                apply_errors(form, error)
            except StepNotAllowed as error:
                return conflict(request, agreement, error.message)
            else:
                to = form.cleaned_data["to"]
                if to is None:
                    messages.success(request, _("The step has been released; anyone who may can take it."))
                else:
                    messages.success(request, _("The step has been handed to %(name)s.") % {"name": to.full_name})
                return redirect("workflows:agreement", pk=agreement.pk)
        status = 400
    return render(
        request, "workflows/hand_over.html", {"agreement": agreement, "task": task, "form": form}, status=status
    )
