"""What auditors read: an agreement's timeline, the agreement as it stood at a
chosen time, the global audit log and its exports. Reads only (an export
writes its own record). Bad input gets a message next to its field and status
400; a reader who may not see an agreement gets 404, one who may not read the
audit log 403."""

import csv
import datetime

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import CharField, Value
from django.db.models.functions import Coalesce, NullIf
from django.http import HttpResponseNotAllowed, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.middleware import client_ip
from accounts.models import Organisation, SignInEvent, User
from accounts.permissions import can_read_audit, visible_municipality_ids
from cases import display
from cases.audit import asof, describe, export, log, timeline
from cases.audit.models import AuditExport
from cases.forms import DateInput
from cases.models import PlanPeriod
from cases.widgets import FastSelect, LabelledModelChoiceField
from storage.models import FileIntegrityEvent

LOG_PAGE_SIZE = 50
READ = ("GET", "HEAD")


def _read_only(request):
    """These pages only read: anything but GET is refused (after the reader's
    right to see has been checked, so that others learn nothing)."""
    return None if request.method in READ else HttpResponseNotAllowed(READ)


# ---------------------------------------------------------------------------
# The agreement's timeline
# ---------------------------------------------------------------------------


class TimelineFilterForm(forms.Form):
    kind = forms.ChoiceField(
        label=gettext_lazy("Kind"),
        required=False,
        widget=FastSelect,
        error_messages={"invalid_choice": gettext_lazy("Choose a kind from the list.")},
    )
    person = forms.TypedChoiceField(
        label=gettext_lazy("Person"),
        required=False,
        widget=FastSelect,
        coerce=int,
        empty_value=None,
        error_messages={"invalid_choice": gettext_lazy("Choose a person from the list.")},
    )

    def __init__(self, *args, actors=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", _("Everything"))] + [(key, label) for key, label, _keys in timeline.GROUPS]
        self.fields["person"].choices = [("", _("Everyone"))] + [(str(pk), name) for pk, name in actors]


@login_required
def agreement_timeline(request, pk):
    agreement = timeline.visible_agreement(request.user, pk)
    if refused := _read_only(request):
        return refused
    history = timeline.build_timeline(agreement)
    form = TimelineFilterForm(request.GET or None, actors=history.actors)
    filters = form.cleaned_data if form.is_bound and form.is_valid() else {}
    events = history.filtered(group=filters.get("kind") or None, actor_id=filters.get("person"))
    # Grouped by round and stage; the latest group unfolded, the others folded
    # (all unfolded with ?open=all: no script needed).
    open_all = request.GET.get("open") == "all"
    query = request.GET.copy()
    query.pop("open", None)
    return render(
        request,
        "audit/timeline.html",
        {
            "agreement": agreement,
            "form": form,
            "events": events,
            "phases": history.phases(events),
            "open_all": open_all,
            "query": query.urlencode(),
            "total": len(history.events),
            "can_read_audit": can_read_audit(request.user),
        },
        status=400 if form.is_bound and form.errors else 200,
    )


TIMELINE_CSV_HEADERS = [
    gettext_lazy("Round"),
    gettext_lazy("Stage"),
    gettext_lazy("Time (Swedish time)"),
    gettext_lazy("Event"),
    gettext_lazy("Kind"),
    gettext_lazy("Who"),
    gettext_lazy("Why"),
    gettext_lazy("In the step"),
    gettext_lazy("Changes"),
]


class _Echo:
    def write(self, value):
        return value


def _cell(value):
    """A cell as text; one that Excel would take for a formula starts with an apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(("=", "+", "-", "@", "\t", "\r")) else text


@login_required
def agreement_timeline_csv(request, pk):
    """Every event of the timeline (no filter), with its round and stage, as CSV:
    UTF-8 with a byte-order mark and semicolons, as Excel with Swedish settings opens it."""
    agreement = timeline.visible_agreement(request.user, pk)
    if refused := _read_only(request):
        return refused
    history = timeline.build_timeline(agreement)
    writer = csv.writer(_Echo(), delimiter=";")

    def lines():
        yield "\ufeff" + writer.writerow([str(h) for h in TIMELINE_CSV_HEADERS])
        # Labels translated once for the whole file, not once per row (#20).
        actions = {key: str(label) for key, label in timeline.ACTIONS.items()}
        groups = {}
        for phase in history.phases():
            stage = str(phase.stage_label)
            for event in phase.events:
                changes = "; ".join(f"{c.label}: {c.old or '–'} → {c.new or '–'}" for c in event.changes)
                if event.group not in groups:
                    groups[event.group] = str(event.group_label)
                row = [
                    phase.round,
                    stage,
                    timezone.localtime(event.when).strftime("%Y-%m-%d %H:%M:%S"),
                    f"{actions[event.action]}: {event.subject}",
                    groups[event.group],
                    event.actor,
                    event.reason,
                    event.step,
                    changes,
                ]
                yield writer.writerow([_cell(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    name = agreement.case_number.replace(" ", "-").replace("/", "-")
    response["Content-Disposition"] = f'attachment; filename="tidslinje-{name}.csv"'
    return response


# ---------------------------------------------------------------------------
# The agreement as it stood at a chosen time
# ---------------------------------------------------------------------------

AS_OF_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S")


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class AsOfForm(forms.Form):
    tid = forms.CharField(
        label=gettext_lazy("Date and time"),
        max_length=40,
        help_text=gettext_lazy("Swedish time. A date alone means the end of that day."),
        widget=DateTimeLocalInput(),
        error_messages={"required": gettext_lazy("Choose a date and time.")},
    )

    def clean_tid(self):
        text = self.cleaned_data["tid"].strip()
        for fmt in AS_OF_FORMATS:
            try:
                moment = datetime.datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        else:
            try:
                day = datetime.datetime.strptime(text, "%Y-%m-%d")
            except ValueError:
                raise ValidationError(
                    _("Write the time as YYYY-MM-DD HH:MM, e.g. 2026-05-01 12:00."), code="invalid"
                ) from None
            moment = datetime.datetime.combine(day.date(), datetime.time.max)
        if not datetime.datetime(1900, 1, 1) <= moment <= datetime.datetime(9999, 1, 1):
            raise ValidationError(_("Write the time as YYYY-MM-DD HH:MM, e.g. 2026-05-01 12:00."), code="invalid")
        return timezone.make_aware(moment)


@login_required
def agreement_as_of(request, pk):
    agreement = timeline.visible_agreement(request.user, pk)
    if refused := _read_only(request):
        return refused
    form = AsOfForm(request.GET or None, initial={"tid": timezone.localtime().strftime("%Y-%m-%dT%H:%M")})
    state = None
    if form.is_bound and form.is_valid():
        try:
            state = asof.agreement_as_of(agreement, form.cleaned_data["tid"])
        except asof.NotYetOpened as error:
            opened = display.when(error.opened_at)
            form.add_error(
                "tid",
                _("The agreement did not exist yet at that time. It was opened on %(when)s.") % {"when": opened},
            )
    return render(
        request,
        "audit/as_of.html",
        {"agreement": agreement, "form": form, "state": state},
        status=400 if form.is_bound and state is None else 200,
    )


# ---------------------------------------------------------------------------
# The global audit log and its exports
# ---------------------------------------------------------------------------


class LogFilterForm(forms.Form):
    municipality = LabelledModelChoiceField(
        label=gettext_lazy("Municipality"),
        queryset=Organisation.objects.filter(kind=Organisation.Kind.MUNICIPALITY).order_by("name"),
        required=False,
        error_messages={"invalid_choice": gettext_lazy("Choose a municipality from the list.")},
    )
    plan_period = LabelledModelChoiceField(
        label=gettext_lazy("Plan period"),
        queryset=PlanPeriod.objects.order_by("-starts_on"),
        required=False,
        error_messages={"invalid_choice": gettext_lazy("Choose a plan period from the list.")},
    )
    user = LabelledModelChoiceField(
        label=gettext_lazy("Person"),
        queryset=User.objects.order_by("full_name", "email"),
        # What str() of a user gives: the full name, else the e-mail address.
        label_expression=Coalesce(NullIf("full_name", Value("")), "email", output_field=CharField()),
        required=False,
        error_messages={"invalid_choice": gettext_lazy("Choose a person from the list.")},
    )
    kind = forms.ChoiceField(
        label=gettext_lazy("Kind of event"),
        required=False,
        widget=FastSelect,
        error_messages={"invalid_choice": gettext_lazy("Choose a kind from the list.")},
    )
    date_from = forms.DateField(
        label=gettext_lazy("From"),
        required=False,
        widget=DateInput(),
        error_messages={"invalid": gettext_lazy("Write the date as YYYY-MM-DD.")},
    )
    date_to = forms.DateField(
        label=gettext_lazy("To"),
        required=False,
        widget=DateInput(),
        error_messages={"invalid": gettext_lazy("Write the date as YYYY-MM-DD.")},
    )
    after = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["municipality"].empty_label = _("Every municipality")
        self.fields["plan_period"].empty_label = _("Every plan period")
        self.fields["user"].empty_label = _("Everyone")
        self.fields["kind"].choices = [("", _("Every kind"))] + sorted(
            ((s.key, str(capfirst(s.label))) for s in log.sources()), key=lambda choice: choice[1]
        )

    def clean_after(self):
        text = self.cleaned_data["after"]
        if not text:
            return None
        try:
            return log.Cursor.parse(text)
        except ValueError:
            raise ValidationError(_("The page link is not valid. Start again from the first page.")) from None

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", _("The end date is before the start date."))
        return cleaned

    def to_filters(self, user) -> log.LogFilters:
        data = self.cleaned_data if self.is_bound else {}
        start, end = data.get("date_from"), data.get("date_to")
        scope = visible_municipality_ids(user)
        return log.LogFilters(
            municipality_id=data["municipality"].pk if data.get("municipality") else None,
            plan_period_id=data["plan_period"].pk if data.get("plan_period") else None,
            user_id=data["user"].pk if data.get("user") else None,
            since=_start_of(start) if start else None,
            # The last day of the calendar (9999-12-31) has no next day: it means "no end".
            until=_start_of(end + datetime.timedelta(days=1)) if end and end < datetime.date.max else None,
            kinds=(data["kind"],) if data.get("kind") else (),
            municipality_scope=frozenset(scope) if scope is not None else None,
            extra={
                name: self.data.get(name)
                for name in ("municipality", "plan_period", "user", "kind", "date_from", "date_to")
                if self.is_bound and self.data.get(name)
            },
        )


def _start_of(day):
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _require_audit_reader(user):
    if not can_read_audit(user):
        raise PermissionDenied


def _event_label(row):
    if row.kind == SignInEvent._meta.label_lower:
        return SignInEvent.Kind(row.reason).label if row.reason in SignInEvent.Kind.values else row.reason
    if row.kind == AuditExport._meta.label_lower:
        return _("Exported (%(format)s)") % {"format": row.reason}
    if row.kind == FileIntegrityEvent._meta.label_lower:
        return FileIntegrityEvent.Kind(row.reason).label if row.reason in FileIntegrityEvent.Kind.values else row.reason
    return timeline.ACTIONS.get(row.history_type, row.history_type)


def _log_page(request, form, status=200):
    rows, next_cursor = [], None
    if not form.is_bound or form.is_valid():
        result = log.page(
            form.to_filters(request.user),
            after=form.cleaned_data.get("after") if form.is_bound else None,
            size=LOG_PAGE_SIZE,
        )
        rows, next_cursor = result.rows, result.next_cursor
        for row in rows:
            row.kind_label = capfirst(row.source.verbose_name)
            row.event_label = _event_label(row)
            row.why = row.reason if row.source.is_history else row.detail  # sign-ins: the address tried
            row.ip = describe.plain_address(row.ip)
        describe.describe(rows)
    else:
        status = 400
    filters = request.GET.copy()
    filters.pop("after", None)
    next_query = None
    if next_cursor is not None:
        next_query = filters.copy()
        next_query["after"] = str(next_cursor)
        next_query = next_query.urlencode()
    return render(
        request,
        "audit/log.html",
        {
            "form": form,
            "rows": rows,
            "filters": filters.urlencode(),
            "next_query": next_query,
            "is_first_page": not (form.is_bound and not form.errors and form.cleaned_data.get("after")),
        },
        status=status,
    )


@login_required
def audit_log(request):
    _require_audit_reader(request.user)
    if refused := _read_only(request):
        return refused
    return _log_page(request, LogFilterForm(request.GET or None))


@login_required
def audit_export(request, fmt):
    """The filtered log (every page of it) as CSV or JSON Lines, streamed."""
    _require_audit_reader(request.user)
    if refused := _read_only(request):
        return refused
    form = LogFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return _log_page(request, form)
    fmt = AuditExport.Format(fmt)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(
        export.stream_export(filters=form.to_filters(request.user), fmt=fmt, actor=request.user, ip=client_ip(request)),
        content_type=export.CONTENT_TYPES[fmt],
    )
    response["Content-Disposition"] = f'attachment; filename="granskningslogg-{stamp}.{fmt.value}"'
    response["Cache-Control"] = "no-store"
    return response
