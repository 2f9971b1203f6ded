"""What the API shows: stable English field names, ISO 8601 dates and times,
case numbers as given. Reads only, except where a serializer says so."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from accounts.models import Organisation
from cases.follow_ups.models import FollowUp, FollowUpEntry
from cases.meetings.models import ActionPoint, DialogueMeeting
from cases.models import (
    Agreement,
    AgreementDocument,
    AgreementRevision,
    Attachment,
    CollaborationArea,
    Decision,
    Party,
    PlanPeriod,
    PlanPriority,
    Signature,
    Stage,
)


class StrictSerializer(serializers.Serializer):
    """Refuses a body with fields it does not know (a misspelt field is an error, not ignored)."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: [_("Unknown field.")] for name in unknown})
        return super().to_internal_value(data)


class OrganisationSerializer(serializers.ModelSerializer):
    municipality_code = serializers.CharField(source="kommunkod")

    class Meta:
        model = Organisation
        fields = ["id", "kind", "name", "municipality_code", "is_active"]


class PlanPrioritySerializer(serializers.ModelSerializer):
    class Meta:
        model = PlanPriority
        fields = ["id", "code", "title", "description"]


class PlanPeriodSerializer(serializers.ModelSerializer):
    priorities = PlanPrioritySerializer(many=True, read_only=True)

    class Meta:
        model = PlanPeriod
        fields = ["id", "name", "starts_on", "ends_on", "is_active", "priorities"]


class AgreementSerializer(serializers.ModelSerializer):
    municipality_name = serializers.CharField(source="municipality.name")
    plan_period_name = serializers.CharField(source="plan_period.name")

    class Meta:
        model = Agreement
        fields = [
            "id",
            "case_number",
            "title",
            "stage",
            "municipality",
            "municipality_name",
            "plan_period",
            "plan_period_name",
            "review_round",
            "predecessor",
            "created_at",
            "updated_at",
            "in_force_since",
            "ended_at",
        ]


class AreaSerializer(serializers.ModelSerializer):
    priorities = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = CollaborationArea
        fields = [
            "id",
            "position",
            "title",
            "goal",
            "region_commitment",
            "municipality_commitment",
            "contacts",
            "priorities",
        ]


class DecisionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Decision
        fields = [
            "id",
            "round",
            "party",
            "body",
            "meeting_date",
            "paragraph",
            "outcome",
            "ends_agreement",
            "minutes",
            "recorded_at",
        ]


class SignatureSerializer(serializers.ModelSerializer):
    """One party's signature, with how the system knows who signed (README ›
    Documents and signatures): the signatory's account, the organisation and
    role they signed in, the server's time, how they proved who they were
    (``paper`` for a registered paper signature) and the SHA-256 of the frozen
    document they signed (a document's ``sha256``). These are null or empty on
    signatures recorded before they were kept, and on imported ones."""

    signatory = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    organisation = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = Signature
        fields = [
            "id",
            "party",
            "signatory_name",
            "signatory_title",
            "signed_on",
            "signed_copy",
            "recorded_at",
            "signatory",
            "organisation",
            "role",
            "signed_at",
            "auth_method",
            "document_sha256",
        ]


class AttachmentSerializer(serializers.ModelSerializer):
    sha256 = serializers.CharField(read_only=True, help_text="SHA-256 of the file's bytes, hex.")
    file_url = serializers.SerializerMethodField(help_text="Where to download the file's bytes.")

    class Meta:
        model = Attachment
        fields = [
            "id",
            "kind",
            "original_name",
            "content_type",
            "size",
            "uploaded_at",
            "follow_up",
            "sha256",
            "file_url",
        ]

    def get_file_url(self, attachment) -> str:
        return reverse("api:attachment_file", args=[attachment.pk])


class DocumentSerializer(serializers.ModelSerializer):
    """A PDF the system made of the agreement and stored once, never rewritten
    (the decision material of a round, and whatever kinds follow): listed
    whatever its kind, downloaded at ``file_url`` as ``application/pdf``."""

    round = serializers.IntegerField(source="revision.round", read_only=True)
    filename = serializers.CharField(read_only=True)
    sha256 = serializers.CharField(read_only=True, help_text="SHA-256 of the file's bytes, hex.")
    fingerprint = serializers.CharField(
        read_only=True, help_text="SHA-256 of the text printed on its pages (its first 16 digits are on each page)."
    )
    file_url = serializers.SerializerMethodField(help_text="Where to download the PDF.")

    class Meta:
        model = AgreementDocument
        fields = [
            "id",
            "agreement",
            "kind",
            "revision",
            "round",
            "filename",
            "size",
            "sha256",
            "fingerprint",
            "created_at",
            "file_url",
        ]

    def get_file_url(self, document) -> str:
        return reverse("api:document_file", args=[document.pk])


class AgreementDetailSerializer(AgreementSerializer):
    areas = AreaSerializer(many=True, source="current_areas", read_only=True)
    decisions = DecisionSerializer(many=True, read_only=True)
    signatures = SignatureSerializer(many=True, read_only=True)
    attachments = AttachmentSerializer(many=True, read_only=True)
    documents = DocumentSerializer(many=True, read_only=True)

    class Meta(AgreementSerializer.Meta):
        fields = AgreementSerializer.Meta.fields + [
            "end_reason",
            "areas",
            "decisions",
            "signatures",
            "attachments",
            "documents",
        ]


class RevisionSerializer(serializers.ModelSerializer):
    content = serializers.JSONField()

    class Meta:
        model = AgreementRevision
        fields = ["id", "round", "title", "content", "created_at"]


class FollowUpEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = FollowUpEntry
        fields = ["id", "area", "progress", "narrative"]


class FollowUpSerializer(serializers.ModelSerializer):
    entries = FollowUpEntrySerializer(many=True, read_only=True)

    class Meta:
        model = FollowUp
        fields = [
            "id",
            "agreement",
            "year",
            "status",
            "opened_at",
            "submitted_at",
            "reviewed_at",
            "review_comment",
            "entries",
        ]


class ActionPointSerializer(serializers.ModelSerializer):
    class Meta:
        model = ActionPoint
        fields = ["id", "meeting", "municipality", "agreement", "area", "description", "owner_name", "due_on", "status"]


class MeetingSerializer(serializers.ModelSerializer):
    participants = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = DialogueMeeting
        fields = ["id", "held_on", "place", "participants", "created_at"]


class MeetingDetailSerializer(MeetingSerializer):
    action_points = ActionPointSerializer(many=True, read_only=True, source="visible_action_points")

    class Meta(MeetingSerializer.Meta):
        fields = MeetingSerializer.Meta.fields + ["minutes", "action_points"]


class OpenStepSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    step = serializers.CharField(source="flow_task.name")
    title = serializers.SerializerMethodField()
    created = serializers.DateTimeField()
    due_on = serializers.DateField(source="deadline.due_on", allow_null=True, default=None)

    def get_title(self, task) -> str:
        return str(task.flow_task.task_title or task.flow_task.name)


class AuditEventSerializer(serializers.Serializer):
    kind = serializers.CharField()
    history_id = serializers.IntegerField()
    at = serializers.DateTimeField(source="history_date")
    type = serializers.ChoiceField(
        source="history_type", choices=["+", "~", "-"], help_text="+ created, ~ changed, - deleted"
    )
    actor = serializers.IntegerField(source="user_id", allow_null=True)
    actor_name = serializers.CharField(source="user_name", allow_null=True)
    reason = serializers.CharField(allow_null=True)
    object_id = serializers.IntegerField(allow_null=True)
    agreement = serializers.IntegerField(source="agreement_id", allow_null=True)
    case_number = serializers.CharField(allow_null=True)
    municipality = serializers.IntegerField(source="municipality_id", allow_null=True)


# ---------------------------------------------------------------------------
# Query parameters and bodies
# ---------------------------------------------------------------------------


class AgreementFilterSerializer(StrictSerializer):
    municipality = serializers.IntegerField(required=False, min_value=1, max_value=2**62)
    plan_period = serializers.IntegerField(required=False, min_value=1, max_value=2**62)
    stage = serializers.ChoiceField(choices=Stage.choices, required=False)
    changed_since = serializers.DateTimeField(required=False)
    cursor = serializers.CharField(required=False)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=200)


class AuditFilterSerializer(StrictSerializer):
    since = serializers.DateTimeField(required=False, help_text="Inclusive.")
    until = serializers.DateTimeField(required=False, help_text="Exclusive.")
    after = serializers.CharField(required=False, max_length=200, help_text="The next_cursor of the previous page.")


class AgreementOpenSerializer(StrictSerializer):
    municipality = serializers.IntegerField(min_value=1, max_value=2**62)
    plan_period = serializers.IntegerField(min_value=1, max_value=2**62)
    title = serializers.CharField(max_length=300)


class ErrorItemSerializer(serializers.Serializer):
    message = serializers.CharField()
    field = serializers.CharField(allow_null=True)


class ErrorSerializer(ErrorItemSerializer):
    errors = ErrorItemSerializer(many=True)


class AuditPageSerializer(serializers.Serializer):
    next_cursor = serializers.CharField(allow_null=True)
    results = AuditEventSerializer(many=True)


class DecisionRecordSerializer(StrictSerializer):
    party = serializers.ChoiceField(choices=Party.choices)
    body = serializers.CharField(max_length=200)
    meeting_date = serializers.DateField()
    paragraph = serializers.CharField(max_length=20)
    outcome = serializers.ChoiceField(choices=Decision.Outcome.choices)
    ends_agreement = serializers.BooleanField(default=False)
