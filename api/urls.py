from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import views

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("organisations/", views.OrganisationList.as_view(), name="organisations"),
    path("plan-periods/", views.PlanPeriodList.as_view(), name="plan_periods"),
    path("plan-periods/<int:pk>/", views.PlanPeriodDetail.as_view(), name="plan_period"),
    path("agreements/", views.AgreementList.as_view(), name="agreements"),
    path("agreements/<int:pk>/", views.AgreementDetail.as_view(), name="agreement"),
    path("agreements/<int:pk>/revisions/", views.RevisionList.as_view(), name="agreement_revisions"),
    path("agreements/<int:pk>/follow-ups/", views.FollowUpList.as_view(), name="agreement_follow_ups"),
    path("agreements/<int:pk>/open-steps/", views.OpenStepList.as_view(), name="agreement_open_steps"),
    path("agreements/<int:pk>/attachments/", views.AttachmentUpload.as_view(), name="agreement_attachments"),
    path("agreements/<int:pk>/decisions/", views.DecisionRecord.as_view(), name="agreement_decisions"),
    path("agreements/<int:pk>/documents/", views.DocumentList.as_view(), name="agreement_documents"),
    path("documents/<int:pk>/file/", views.DocumentFile.as_view(), name="document_file"),
    path("attachments/<int:pk>/file/", views.AttachmentFile.as_view(), name="attachment_file"),
    path("agreements/<int:pk>/events/", views.AgreementEvents.as_view(), name="agreement_events"),
    path("meetings/", views.MeetingList.as_view(), name="meetings"),
    path("meetings/<int:pk>/", views.MeetingDetail.as_view(), name="meeting"),
    path("audit-log/", views.AuditLog.as_view(), name="audit_log"),
]
