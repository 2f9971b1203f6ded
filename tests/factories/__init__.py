from .accounts import MembershipFactory, UserFactory, municipality, region, user_with_role  # noqa: F401
from .cases import agreement_in_stage, current_period  # noqa: F401
