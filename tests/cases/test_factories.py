"""The factories build each stage as the services would leave it, so a rule's
test starts from a state the product can reach."""

import pytest

from cases.models import Decision, Party, Stage
from tests.factories import AgreementFactory, FollowUpFactory

pytestmark = pytest.mark.django_db

APPROVED = Decision.Outcome.APPROVED


@pytest.mark.parametrize(
    ("trait", "stage", "revisions", "approvals", "signatures", "ended"),
    [
        ({}, Stage.DRAFTING, 0, 0, 0, False),
        ({"in_review": True}, Stage.REVIEW, 1, 0, 0, False),
        ({"in_approval": True}, Stage.APPROVAL, 1, 0, 0, False),
        ({"in_signing": True}, Stage.SIGNING, 1, 2, 0, False),
        ({"in_force": True}, Stage.IN_FORCE, 1, 2, 2, False),
        ({"closed": True}, Stage.CLOSED, 1, 2, 2, True),
        ({"withdrawn": True}, Stage.WITHDRAWN, 0, 0, 0, True),
        ({"rejected": True}, Stage.REJECTED, 1, 0, 0, True),
    ],
    ids=lambda v: str(v),
)
def test_each_trait_builds_its_stage(trait, stage, revisions, approvals, signatures, ended):
    agreement = AgreementFactory(**trait)
    assert agreement.stage == stage
    assert agreement.active_areas().count() == 1
    assert agreement.revisions.count() == revisions
    assert {d.party for d in agreement.decisions.filter(outcome=APPROVED)} == (
        {Party.REGION, Party.MUNICIPALITY} if approvals else set()
    )
    assert agreement.signatures.count() == signatures
    assert (agreement.in_force_since is not None) == bool(signatures)
    assert (agreement.ended_at is not None) == ended
    if stage == Stage.CLOSED:
        assert agreement.plan_period.ends_on < agreement.ended_at.date()
    if stage == Stage.REJECTED:
        assert agreement.decisions.get().ends_agreement


def test_a_follow_up_has_an_entry_per_area():
    follow_up = FollowUpFactory(agreement__areas=3)
    assert follow_up.agreement.stage == Stage.IN_FORCE
    assert follow_up.entries.count() == 3
