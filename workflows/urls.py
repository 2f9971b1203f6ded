from django.urls import path

from .nodes import serve_step
from .views import audit, meetings, overview, pages, renewal

app_name = "workflows"

urlpatterns = [
    path("", pages.inbox, name="inbox"),
    path("ko/", pages.queue, name="queue"),
    path("arkiv/", pages.archive, name="archive"),
    path("overenskommelser/", pages.agreement_list, name="agreements"),
    path("overenskommelser/ny/", pages.agreement_open, name="agreement_open"),
    path("overenskommelser/<int:pk>/", pages.agreement_detail, name="agreement"),
    path("overenskommelser/<int:pk>/aterkalla/", pages.agreement_withdraw, name="agreement_withdraw"),
    path("overenskommelser/<int:pk>/bilagor/", pages.attachment_upload, name="attachment_upload"),
    path("overenskommelser/<int:pk>/steg/<int:task_pk>/sista-dag/", pages.step_due_date, name="step_due_date"),
    path("overenskommelser/<int:pk>/fornya/", renewal.agreement_renew, name="agreement_renew"),
    path("overenskommelser/<int:pk>/jamfor/", renewal.agreement_compare, name="agreement_compare"),
    path("overenskommelser/<int:pk>/tidslinje/", audit.agreement_timeline, name="agreement_timeline"),
    path("overenskommelser/<int:pk>/per/", audit.agreement_as_of, name="agreement_as_of"),
    path("granskning/", audit.audit_log, name="audit_log"),
    path("granskning/export.csv", audit.audit_export, {"fmt": "csv"}, name="audit_export_csv"),
    path("granskning/export.jsonl", audit.audit_export, {"fmt": "jsonl"}, name="audit_export_jsonl"),
    path("overenskommelser/erbjud-alla/", renewal.offer_all, name="offer_all"),
    path("bilagor/<int:pk>/", pages.attachment_download, name="attachment"),
    path("dokument/<int:pk>/", pages.document_download, name="document"),
    path("dokument/verifiera/", pages.verify_document, name="verify_document"),
    path("uppfoljningar/<int:pk>/pdf/", pages.follow_up_pdf, name="follow_up_pdf"),
    path("steg/<int:process_pk>/<slug:step>/<int:task_pk>/", serve_step, name="step"),
    path("dialogmoten/", meetings.meeting_list, name="meetings"),
    path("dialogmoten/nytt/", meetings.meeting_new, name="meeting_new"),
    path("dialogmoten/<int:pk>/", meetings.meeting_detail, name="meeting"),
    path("dialogmoten/<int:pk>/protokoll/", meetings.meeting_minutes, name="meeting_minutes"),
    path("dialogmoten/<int:pk>/pdf/", meetings.meeting_pdf, name="meeting_pdf"),
    path("dialogmoten/<int:pk>/atgarder/ny/", meetings.action_point_add, name="action_point_add"),
    path("dialogmoten/atgarder/<int:pk>/status/", meetings.action_point_status, name="action_point_status"),
    path("lanet/", overview.county, name="county"),
    path("lanet.csv", overview.county_csv, name="county_csv"),
    path("tackning/", overview.coverage, name="coverage"),
]
