"""Agreements in any lifecycle stage in one line, driven through the real
services and process (so history, tasks and due dates are all as in production)."""

from accounts.models import Role
from cases.models import PlanPeriod, Stage
from workflows import demo

from .accounts import municipality as get_municipality
from .accounts import user_with_role


def current_period():
    return PlanPeriod.objects.get(name="2023–2026")


def agreement_in_stage(stage=Stage.DRAFTING, municipality="Mora", *, coordinator=None, head=None, title=None):
    organisation = get_municipality(municipality) if isinstance(municipality, str) else municipality
    coordinator = coordinator or user_with_role(Role.COORDINATOR)
    head = head or user_with_role(Role.CULTURAL_HEAD, organisation)
    agreement = demo.open_agreement(
        coordinator=coordinator, municipality=organisation, plan_period=current_period(), title=title
    )
    if stage != Stage.DRAFTING:
        demo.advance(agreement, to=stage, coordinator=coordinator, head=head)
    agreement.refresh_from_db()
    return agreement
