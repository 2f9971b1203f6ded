"""The API's endpoints. Each reads through the selectors the pages use
(cases/*/selectors.py, accounts.permissions) and writes through the services
the pages call, so a token or a session sees and may do exactly what the
same person sees and may do on the pages. Views are thin."""

import base64

from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import FileResponse
from django.utils import translation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView
from viewflow.workflow.exceptions import FlowLockFailed

from accounts.middleware import client_ip
from accounts.models import Organisation
from accounts.permissions import (
    Action,
    can_attach,
    can_do_anywhere,
    can_read_audit,
    scope_by_municipality,
    visible_municipality_ids,
)
from cases.agreements import selectors as agreements
from cases.agreements import services as case_services
from cases.agreements.forms import AttachmentForm, DecisionForm, OpenAgreementForm
from cases.audit import log, timeline
from cases.exceptions import StepNotAllowed
from cases.files import ALLOWED as ATTACHMENT_TYPES
from cases.follow_ups.models import FollowUpEntry
from cases.meetings import selectors as meetings
from cases.models import Party, PlanPeriod, PlanPriority
from storage.integrity import FileRefused, open_verified
from workflows import selectors as steps
from workflows import services as flow_services
from workflows.runner import run_step

from . import serializers as s
from .errors import language_of


class ApiMixin:
    """Answers in the language of Accept-Language (Swedish by default)."""

    def dispatch(self, request, *args, **kwargs):
        with translation.override(language_of(request)):
            response = super().dispatch(request, *args, **kwargs)
            if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                response.render()
            return response

    def query(self, serializer_class):
        """The query parameters, validated (400 with the field on a wrong one)."""
        serializer = serializer_class(data=self.request.query_params.dict())
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class Keyset(CursorPagination):
    """Keyset pagination by id: stable under inserts, as fast on page 1,000 as on page 1."""

    ordering = "pk"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class OrganisationList(ApiMixin, generics.ListAPIView):
    """The region and the municipalities the caller may see."""

    serializer_class = s.OrganisationSerializer
    pagination_class = None

    def get_queryset(self):
        municipalities = scope_by_municipality(
            Organisation.objects.filter(kind=Organisation.Kind.MUNICIPALITY), self.request.user, field="pk"
        )
        return (Organisation.objects.filter(kind=Organisation.Kind.REGION) | municipalities).order_by(
            "kind", "name", "pk"
        )


def _plan_periods():
    return PlanPeriod.objects.order_by("-starts_on").prefetch_related(
        Prefetch("priorities", queryset=PlanPriority.objects.order_by("code", "pk"))
    )


class PlanPeriodList(ApiMixin, generics.ListAPIView):
    """Every plan period with its priorities, newest first."""

    serializer_class = s.PlanPeriodSerializer
    pagination_class = None

    def get_queryset(self):
        return _plan_periods()


class PlanPeriodDetail(ApiMixin, generics.RetrieveAPIView):
    """One plan period with its priorities."""

    serializer_class = s.PlanPeriodSerializer

    def get_queryset(self):
        return _plan_periods()


AGREEMENT_FILTERS = [
    OpenApiParameter("municipality", int, description="Only this municipality's agreements (its id)."),
    OpenApiParameter("plan_period", int, description="Only this plan period's (its id)."),
    OpenApiParameter("stage", str, enum=[value for value, _label in s.Stage.choices]),
    OpenApiParameter("changed_since", str, description="ISO 8601 date and time: changed at or after it."),
]


class AgreementList(ApiMixin, generics.ListAPIView):
    """The agreements the caller may see, by id, keyset-paginated (``next``
    holds the cursor of the next page). Opening one (POST) is the
    coordinators' step, as on the pages."""

    pagination_class = Keyset

    def get_serializer_class(self):
        return s.AgreementOpenSerializer if self.request.method == "POST" else s.AgreementSerializer

    def get_queryset(self):
        filters = self.query(s.AgreementFilterSerializer)
        queryset = agreements.agreements_for(
            self.request.user,
            municipality=filters.get("municipality"),
            plan_period=filters.get("plan_period"),
            stage=filters.get("stage", ""),
        )
        if "changed_since" in filters:
            queryset = queryset.filter(updated_at__gte=filters["changed_since"])
        return queryset

    @extend_schema(parameters=AGREEMENT_FILTERS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request=s.AgreementOpenSerializer, responses={201: s.AgreementDetailSerializer})
    def post(self, request):
        body = s.AgreementOpenSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if not can_do_anywhere(request.user, Action.DRAFT):
            raise PermissionDenied
        # The page's form: the same choices (active municipalities, open periods) and limits.
        form = OpenAgreementForm(data=body.validated_data)
        if not form.is_valid():
            raise ValidationError({name: [str(m) for m in messages] for name, messages in form.errors.items()})
        agreement = flow_services.agreement_open(actor=request.user, **form.cleaned_data)
        detail = agreements.agreement_for(request.user, agreement.pk)
        return Response(s.AgreementDetailSerializer(detail).data, status=status.HTTP_201_CREATED)


class AgreementDetail(ApiMixin, generics.RetrieveAPIView):
    """One agreement with its current collaboration areas, decisions, signatures and attachments."""

    serializer_class = s.AgreementDetailSerializer

    def get_object(self):
        return agreements.agreement_for(self.request.user, self.kwargs["pk"])


class AttachmentUpload(ApiMixin, APIView):
    """Attach a file to the agreement (multipart, field ``file``): those who
    take steps on it may, as on its page; the same checks of size and type."""

    parser_classes = [MultiPartParser]

    @extend_schema(
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
                "required": ["file"],
            }
        },
        responses={201: s.AttachmentSerializer},
    )
    def post(self, request, pk):
        agreement = agreements.agreement_for(request.user, pk)  # 404 before anything else
        if not can_attach(request.user, agreement):
            raise PermissionDenied
        unknown = sorted((set(request.data) | set(request.FILES)) - {"file"})
        if unknown:
            raise ValidationError({name: [translation.gettext("Unknown field.")] for name in unknown})
        form = AttachmentForm(data=request.data, files=request.FILES)
        if not form.is_valid():
            raise ValidationError({name: [str(m) for m in messages] for name, messages in form.errors.items()})
        attachment = case_services.attachment_add(
            actor=request.user, agreement=agreement, uploaded=form.cleaned_data["file"]
        )
        return Response(s.AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class DecisionRecord(ApiMixin, APIView):
    """Record the region's or the municipality's decision: the step the
    decision page takes, with its form, its checks and its service; refused
    (409) when that step is not open, 403 for one who may not take it."""

    @extend_schema(request=s.DecisionRecordSerializer, responses={201: s.DecisionSerializer})
    def post(self, request, pk):
        agreement = agreements.agreement_for(request.user, pk)  # 404 before anything else
        body = s.DecisionRecordSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        party = body.validated_data["party"]
        step = "region_decision" if party == Party.REGION else "municipal_decision"
        task = steps.open_step_of(agreement, step)
        if task is None:
            raise Conflict(translation.gettext("This step cannot be taken now: the agreement has moved on."))
        if not task.flow_task.can_execute(request.user, task, agreement.municipality):
            raise PermissionDenied(translation.gettext("You may not take this step."))
        form = DecisionForm(data={k: v for k, v in body.validated_data.items() if k != "party"})
        if not form.is_valid():
            raise ValidationError({name: [str(m) for m in messages] for name, messages in form.errors.items()})
        data = form.cleaned_data
        try:
            decision = run_step(
                agreement=agreement,
                step_name=step,
                actor=request.user,
                perform=lambda: case_services.decision_record(
                    actor=request.user,
                    agreement=agreement,
                    party=party,
                    body=data["body"],
                    meeting_date=data["meeting_date"],
                    paragraph=data["paragraph"],
                    outcome=data["outcome"],
                    ends_agreement=data["ends_agreement"],
                ),
            )
        except (StepNotAllowed, FlowLockFailed) as error:
            raise Conflict(getattr(error, "message", None) or str(error)) from error
        return Response(s.DecisionSerializer(decision).data, status=status.HTTP_201_CREATED)


class AgreementChildList(ApiMixin, generics.ListAPIView):
    pagination_class = None

    def agreement(self):
        return timeline.visible_agreement(self.request.user, self.kwargs["pk"])


class RevisionList(AgreementChildList):
    """The versions of the agreement's text as they were sent for review, by round."""

    serializer_class = s.RevisionSerializer

    def get_queryset(self):
        return self.agreement().revisions.order_by("round", "pk")


class FollowUpList(AgreementChildList):
    """The agreement's yearly follow-ups with their entries per area."""

    serializer_class = s.FollowUpSerializer

    def get_queryset(self):
        return (
            self.agreement()
            .follow_ups.prefetch_related(Prefetch("entries", queryset=FollowUpEntry.objects.order_by("pk")))
            .order_by("year", "pk")
        )


class OpenStepList(AgreementChildList):
    """The agreement's open steps: what must happen next, and by when."""

    serializer_class = s.OpenStepSerializer

    def get_queryset(self):
        open_steps, _ended = steps.steps_of(self.agreement())
        return open_steps


class DocumentList(AgreementChildList):
    """The PDFs the system made of the agreement and stored, every kind (the
    decision material of each round, and any kind added later), oldest first;
    each downloads at its ``file_url``."""

    serializer_class = s.DocumentSerializer

    def get_queryset(self):
        return self.agreement().documents.select_related("revision").order_by("created_at", "pk")


class Gone(APIException):
    status_code = status.HTTP_404_NOT_FOUND
    default_code = "missing"


class FileDownload(ApiMixin, APIView):
    """A stored file's bytes, checked against its recorded SHA-256 on the way
    out exactly as the pages' downloads are (storage.integrity): a file whose
    bytes no longer match is refused (409), a missing one is 404, each with
    the event in the audit log. The SHA-256 travels in ``Repr-Digest``
    (RFC 9530) and ``X-Content-SHA256`` (hex), and as the ``ETag``."""

    def perform_content_negotiation(self, request, force=False):
        # The bytes are answered as they are; only an error is rendered, always as
        # JSON, so an ``Accept: application/pdf`` gets the file, not a 406.
        renderer = JSONRenderer()
        return renderer, renderer.media_type

    def download(self, request, record, *, fieldfile, sha256, filename, content_type):
        try:
            handle = open_verified(
                fieldfile, expected_sha256=sha256, about=record, actor=request.user, ip=client_ip(request)
            )
        except FileRefused as refused:
            recorded = translation.gettext(
                "The event has been recorded in the audit log (number %(number)s). Contact the system "
                "administrators: they can restore the file from a backup."
            ) % {"number": refused.event.pk}
            if refused.kind == "mismatch":
                message = translation.gettext(
                    "The stored content of “%(filename)s” no longer matches the checksum recorded when it was "
                    "uploaded, so it may have been damaged or changed. It is not handed out."
                )
                raise Conflict(f"{message % {'filename': filename}} {recorded}") from refused
            message = translation.gettext("The stored content of “%(filename)s” cannot be found.")
            raise Gone(f"{message % {'filename': filename}} {recorded}") from refused
        response = FileResponse(handle, as_attachment=True, filename=filename, content_type=content_type)
        response["X-Content-SHA256"] = sha256
        response["Repr-Digest"] = f"sha-256=:{base64.b64encode(bytes.fromhex(sha256)).decode()}:"
        response["ETag"] = f'"{sha256}"'
        response["X-Content-Type-Options"] = "nosniff"
        return response


DIGEST_HEADERS = [
    OpenApiParameter(
        "Repr-Digest",
        str,
        location=OpenApiParameter.HEADER,
        response=[200],
        description="The SHA-256 of the bytes: sha-256=:<base64>: (RFC 9530).",
    ),
    OpenApiParameter(
        "X-Content-SHA256",
        str,
        location=OpenApiParameter.HEADER,
        response=[200],
        description="The SHA-256 of the bytes, hex.",
    ),
]


def _binary(content_types):
    return {
        (200, content_type): OpenApiResponse(OpenApiTypes.BINARY, description="The file's bytes.")
        for content_type in content_types
    }


class DocumentFile(FileDownload):
    """Download a stored document of an agreement (PDF), as on its page: 404 for one the caller may not see."""

    @extend_schema(responses=_binary(["application/pdf"]), parameters=DIGEST_HEADERS)
    def get(self, request, pk):
        document = agreements.document_for(request.user, pk)
        return self.download(
            request,
            document,
            fieldfile=document.file,
            sha256=document.sha256,
            filename=document.filename,
            content_type="application/pdf",
        )


class AttachmentFile(FileDownload):
    """Download an attached file (minutes, signed copies, other documents) in
    the type it was accepted as: 404 for one the caller may not see."""

    @extend_schema(responses=_binary(sorted(set(ATTACHMENT_TYPES.values()))), parameters=DIGEST_HEADERS)
    def get(self, request, pk):
        attachment = agreements.attachment_for(request.user, pk)
        return self.download(
            request,
            attachment,
            fieldfile=attachment.file,
            sha256=attachment.sha256,
            filename=attachment.original_name,
            content_type=attachment.content_type,
        )


class AuditPage(ApiMixin, APIView):
    """Keyset pages of the audit log, newest first."""

    def page(self, **scope):
        filters = self.query(s.AuditFilterSerializer)
        after = None
        if filters.get("after"):
            try:
                after = log.Cursor.parse(filters["after"])
            except ValueError:
                raise ValidationError({"after": [translation.gettext("Not a cursor of this log.")]}) from None
        visible = visible_municipality_ids(self.request.user)
        result = log.page(
            log.LogFilters(
                since=filters.get("since"),
                until=filters.get("until"),
                municipality_scope=frozenset(visible) if visible is not None else None,
                **scope,
            ),
            after=after,
            size=50,
        )
        return Response(
            s.AuditPageSerializer(
                {"next_cursor": str(result.next_cursor) if result.next_cursor else None, "results": result.rows}
            ).data
        )


AUDIT_PARAMETERS = [
    OpenApiParameter("since", str, description="ISO 8601; inclusive."),
    OpenApiParameter("until", str, description="ISO 8601; exclusive."),
    OpenApiParameter("after", str, description="next_cursor of the previous page."),
]


class AgreementEvents(AuditPage):
    """Every recorded change of the agreement and of what hangs off it (who, when, why)."""

    @extend_schema(parameters=AUDIT_PARAMETERS, responses=s.AuditPageSerializer)
    def get(self, request, pk):
        agreement = timeline.visible_agreement(request.user, pk)
        return self.page(agreement_id=agreement.pk)


class AuditLog(AuditPage):
    """The global audit log, for those who may read it (coordinators and auditors)."""

    @extend_schema(parameters=AUDIT_PARAMETERS, responses=s.AuditPageSerializer)
    def get(self, request):
        if not can_read_audit(request.user):
            raise PermissionDenied
        return self.page()


class MeetingList(ApiMixin, generics.ListAPIView):
    """The dialogue meetings the caller may see: every one for the region,
    those their municipality took part in for a municipality."""

    serializer_class = s.MeetingSerializer
    pagination_class = Keyset

    def get_queryset(self):
        return meetings.meetings_for(self.request.user)


class MeetingDetail(ApiMixin, generics.RetrieveAPIView):
    """One meeting with the action points the caller may see."""

    serializer_class = s.MeetingDetailSerializer

    def get_object(self):
        meeting = meetings.meeting_for(self.request.user, self.kwargs["pk"])
        meeting.visible_action_points = list(meetings.action_points_of(self.request.user, meeting))
        return meeting
