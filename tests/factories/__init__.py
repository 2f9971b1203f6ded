from .accounts import MembershipFactory, UserFactory, municipality, region, user_with_role  # noqa: F401
from .cases import (  # noqa: F401
    ActionPointFactory,
    AgreementFactory,
    CollaborationAreaFactory,
    DecisionFactory,
    DialogueMeetingFactory,
    FollowUpFactory,
    SignatureFactory,
    agreement_in_stage,
    current_period,
    priority,
)
