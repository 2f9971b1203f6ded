from .accounts import MembershipFactory, UserFactory, municipality, region, user_with_role  # noqa: F401
