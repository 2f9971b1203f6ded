"""The dialogue meetings (Regional kulturdialog): the list, recording a meeting
with its action points, a meeting's page, its minutes, adding an action point
and marking one done. Reads go through cases.meetings.selectors (scoped to the
user), writes through cases.meetings.services; coordinators record, everyone
else reads."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.permissions import Action, can_do_anywhere
from cases import display
from cases.agreements.documents import render_meeting_pdf
from cases.files import ALLOWED
from cases.forms import apply_errors, ask_for_files_again
from cases.meetings import selectors as meeting_selectors
from cases.meetings import services as meeting_services
from cases.meetings.forms import (
    ACTION_POINT_PREFIX,
    ActionPointForm,
    ActionPointFormSet,
    ActionPointStatusForm,
    MeetingForm,
    apply_meeting_errors,
)
from cases.meetings.selectors import live_areas
from storage.downloads import verified_file_response

PAGE_SIZE = 50


def _may_manage(user):
    return can_do_anywhere(user, Action.MANAGE_MEETINGS)


def _require_manage(user):
    if not _may_manage(user):
        raise PermissionDenied(_("Only the regional coordinators record dialogue meetings."))


@login_required
def meeting_list(request):
    page = Paginator(meeting_selectors.meetings_for(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "workflows/meetings/list.html",
        {"page": page, "can_record": _may_manage(request.user)},
    )


@login_required
def meeting_new(request):
    _require_manage(request.user)
    posted = request.method == "POST"
    areas = live_areas()
    form = MeetingForm(request.POST or None, request.FILES or None, initial={"held_on": timezone.localdate()})
    formset = ActionPointFormSet(request.POST if posted else None, prefix=ACTION_POINT_PREFIX, areas=areas)
    if posted and not (form.is_valid() & formset.is_valid()):
        # The fields that parsed are still checked, so every problem is named at once.
        # (An empty POST leaves the form unbound and the formset without its
        # management form: nothing parsed, nothing more to say.)
        if form.is_bound and not formset.non_form_errors():
            rows = [f for _i, f in formset.filled_forms()]
            data = form.cleaned_data
            problems, _facts, _checked = meeting_services.meeting_problems(
                held_on=data.get("held_on"),
                place=data.get("place"),
                participants=data.get("participants"),
                action_points=[f.to_input() for f in rows],
            )
            apply_meeting_errors(form, formset, ValidationError(problems), rows, only_new=True)
    elif posted:
        rows = [f for _i, f in formset.filled_forms()]
        data = form.cleaned_data
        try:
            meeting = meeting_services.meeting_record(
                actor=request.user,
                held_on=data["held_on"],
                place=data["place"],
                participants=data["participants"],
                partners=data.get("partners") or (),
                minutes=data["minutes"],
                minutes_file=data.get("minutes_file") or None,
                action_points=[f.to_input() for f in rows],
            )
        except ValidationError as error:
            apply_meeting_errors(form, formset, error, rows)
        else:
            messages.success(
                request,
                _("The dialogue meeting of %(date)s has been recorded.") % {"date": display.day(meeting.held_on)},
            )
            return redirect("workflows:meeting", pk=meeting.pk)
    if posted:
        ask_for_files_again(form)
    return render(
        request,
        "workflows/meetings/new.html",
        {"form": form, "formset": formset},
        status=400 if posted else 200,
    )


def _detail_context(request, meeting, *, add_form=None):
    user = request.user
    can_manage = _may_manage(user)
    participants = list(meeting.participants.all())
    if can_manage and add_form is None:
        add_form = ActionPointForm(
            prefix="new", municipalities=meeting.participants.order_by("name"), areas=live_areas(participants)
        )
    return {
        "meeting": meeting,
        "participants": participants,
        "action_points": list(meeting_selectors.action_points_of(user, meeting)),
        "can_manage": can_manage,
        "add_form": add_form if can_manage else None,
        "status_form": ActionPointStatusForm() if can_manage else None,
        "today": timezone.localdate(),
    }


@login_required
def meeting_detail(request, pk):
    meeting = meeting_selectors.meeting_for(request.user, pk)
    return render(request, "workflows/meetings/detail.html", _detail_context(request, meeting))


@login_required
def meeting_minutes(request, pk):
    meeting = meeting_selectors.meeting_for(request.user, pk)
    if not meeting.minutes_file:
        raise Http404
    name = meeting.minutes_file_name or meeting.minutes_file.name.rsplit("/", 1)[-1]
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return verified_file_response(
        request,
        meeting.minutes_file,
        sha256=meeting.minutes_file_sha256,
        filename=name,
        content_type=ALLOWED.get("jpg" if extension == "jpeg" else extension, "application/octet-stream"),
        about=meeting,
    )


@login_required
def action_point_add(request, pk):
    meeting = meeting_selectors.meeting_for(request.user, pk)  # 404 before anything else
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    _require_manage(request.user)
    participants = list(meeting.participants.all())
    form = ActionPointForm(
        request.POST,
        prefix="new",
        municipalities=meeting.participants.order_by("name"),
        areas=live_areas(participants),
    )
    if form.is_valid():
        item = form.to_input()
        try:
            meeting_services.action_point_add(
                actor=request.user,
                meeting=meeting,
                municipality=item.municipality,
                area=item.area,
                description=item.description,
                owner_name=item.owner_name,
                due_on=item.due_on,
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, _("The action point has been added."))
            return redirect("workflows:meeting", pk=meeting.pk)
    return render(
        request, "workflows/meetings/detail.html", _detail_context(request, meeting, add_form=form), status=400
    )


@login_required
def action_point_status(request, pk):
    action_point = meeting_selectors.action_point_for(request.user, pk)  # 404 before anything else
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    _require_manage(request.user)
    form = ActionPointStatusForm(request.POST)
    if form.is_valid():
        try:
            meeting_services.action_point_set_status(
                actor=request.user,
                action_point=action_point,
                status=form.cleaned_data["status"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, _("The action point's status has been changed."))
            return redirect("workflows:meeting", pk=action_point.meeting_id)
    return render(
        request,
        "workflows/meetings/action_point_status.html",
        {"action_point": action_point, "form": form},
        status=400,
    )


@login_required
def meeting_pdf(request, pk):
    """The meeting's minutes and the action points this user may see, as PDF/A."""
    meeting = meeting_selectors.meeting_for(request.user, pk)
    points = meeting_selectors.action_points_of(request.user, meeting).select_related("municipality")
    data = render_meeting_pdf(meeting, action_points=points)
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="kulturdialog-{meeting.held_on:%Y-%m-%d}.pdf"'
    return response
