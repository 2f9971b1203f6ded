"""The models of the cases app. Each domain defines its own in its package
(cases/agreements, cases/follow_ups, cases/meetings); Django discovers them
here, and the app label, table names and migrations stay those of ``cases``."""

from .agreements.models import (  # noqa: F401
    FINAL_STAGES,
    LIVE_STAGES,
    Agreement,
    AgreementDocument,
    AgreementRevision,
    Attachment,
    CaseNumberSequence,
    CollaborationArea,
    Decision,
    DocumentProduction,
    Party,
    PlanPeriod,
    PlanPriority,
    ReviewComment,
    Signature,
    Stage,
)
from .follow_ups.models import FollowUp, FollowUpEntry  # noqa: F401
from .meetings.models import ActionPoint, DialogueMeeting  # noqa: F401
