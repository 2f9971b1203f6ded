"""Agreements in any lifecycle stage, in one line.

Two kinds, for two kinds of test:

- ``AgreementFactory``: the rows alone, written directly as factory_boy does
  (Open Zaak's factories with traits): ``AgreementFactory(in_force=True)`` is
  an agreement in force with its areas, revision, both approving decisions
  and both signatures, in a few milliseconds. For the direct tests of the
  services (tests/cases/), which need the state a rule acts on, not the
  process. The rows carry no audit reason: the reasons are the services'.
- ``agreement_in_stage``: driven through the real services and process (so
  history, tasks and due dates are all as in production), for the scenario
  tests over HTTP."""

import datetime
import hashlib

import factory
from django.core.files.base import ContentFile
from django.utils import timezone

from accounts.models import Role
from cases.agreements.compare import snapshot
from cases.agreements.documents import render_revision_pdf
from cases.models import (
    ActionPoint,
    Agreement,
    AgreementDocument,
    AgreementRevision,
    CollaborationArea,
    Decision,
    DialogueMeeting,
    FollowUp,
    FollowUpEntry,
    Party,
    PlanPeriod,
    PlanPriority,
    Signature,
    Stage,
)
from workflows import demo

from .accounts import UserFactory, user_with_role
from .accounts import municipality as get_municipality


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


# ---------------------------------------------------------------------------
# Rows alone, with factory_boy
# ---------------------------------------------------------------------------

# The stages in the order an agreement reaches them; the rows of each are those
# of the stages before it too.
PATH = [Stage.DRAFTING, Stage.REVIEW, Stage.APPROVAL, Stage.SIGNING, Stage.IN_FORCE, Stage.CLOSED]


def _reached(agreement, stage):
    return agreement.stage in PATH and PATH.index(agreement.stage) >= PATH.index(stage)


def _decided_on(agreement):
    """A day inside the agreement's plan period, not in the future."""
    period = agreement.plan_period
    return max(period.starts_on, min(timezone.localdate(), period.ends_on) - datetime.timedelta(days=10))


class CollaborationAreaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CollaborationArea
        skip_postgeneration_save = True

    agreement = factory.SubFactory("tests.factories.cases.AgreementFactory")
    position = factory.LazyAttribute(lambda a: a.agreement.areas.count() + 1)
    title = factory.Sequence(lambda n: f"Samverkansområde {n}")
    goal = "Ett levande nätverk för kommunernas kulturchefer."
    region_commitment = "Regionen samordnar nätverket."
    municipality_commitment = "Kommunen deltar med kulturchefen."

    @factory.post_generation
    def priorities(self, create, extracted, **kwargs):
        if create and extracted:
            self.priorities.set(extracted)


class AgreementFactory(factory.django.DjangoModelFactory):
    """An agreement of Mora in 2023–2026, drafting, with one collaboration area.

    ``stage=`` (or a trait: ``in_review``, ``in_approval``, ``in_signing``,
    ``in_force``, ``closed``, ``withdrawn``, ``rejected``) also writes the rows
    that stage implies: the revision sent for review, both approving decisions,
    both signatures, the end. ``areas=n`` sets how many areas (0 for none)."""

    class Meta:
        model = Agreement
        skip_postgeneration_save = True

    municipality = factory.LazyFunction(lambda: get_municipality("Mora"))
    plan_period = factory.LazyFunction(current_period)
    case_number = factory.Sequence(lambda n: f"TEST {n:05d}")
    title = factory.LazyAttribute(lambda a: f"Överenskommelse om kultursamverkan {a.municipality.name}")
    created_by = factory.SubFactory(UserFactory)
    stage = Stage.DRAFTING

    class Params:
        in_review = factory.Trait(stage=Stage.REVIEW)
        in_approval = factory.Trait(stage=Stage.APPROVAL)
        in_signing = factory.Trait(stage=Stage.SIGNING)
        in_force = factory.Trait(stage=Stage.IN_FORCE)
        # The plan period 2019–2022 has ended, so a closed agreement belongs to it.
        closed = factory.Trait(
            stage=Stage.CLOSED, plan_period=factory.LazyFunction(lambda: PlanPeriod.objects.get(name="2019–2022"))
        )
        withdrawn = factory.Trait(stage=Stage.WITHDRAWN, end_reason="Kommunen avstår.")
        rejected = factory.Trait(stage=Stage.REJECTED)

    @factory.post_generation
    def areas(self, create, extracted, **kwargs):
        if not create:
            return
        for _index in range(1 if extracted is None else extracted):
            CollaborationAreaFactory(agreement=self)

    @factory.post_generation
    def stage_rows(self, create, extracted, **kwargs):
        """The rows the stage implies, written after the areas."""
        if not create:
            return
        coordinator = self.created_by
        day = _decided_on(self)
        if _reached(self, Stage.REVIEW) or self.stage == Stage.REJECTED:
            revision = AgreementRevision.objects.create(
                agreement=self, round=1, title=self.title, content=snapshot(self), created_by=coordinator
            )
        if self.stage == Stage.APPROVAL:
            # The decision material, frozen as the agreement entered approval. Agreements
            # built further on have decisions that name no document (as decisions recorded
            # before documents existed): rendering one costs a fraction of a second each.
            _freeze(revision, coordinator)
        if _reached(self, Stage.SIGNING):
            for party in (Party.REGION, Party.MUNICIPALITY):
                DecisionFactory(agreement=self, party=party, meeting_date=day, recorded_by=coordinator)
        if _reached(self, Stage.IN_FORCE):
            for party in (Party.REGION, Party.MUNICIPALITY):
                SignatureFactory(agreement=self, party=party, signed_on=day, recorded_by=coordinator)
            self.in_force_since = day
        if self.stage == Stage.REJECTED:
            DecisionFactory(
                agreement=self,
                party=Party.MUNICIPALITY,
                meeting_date=day,
                outcome=Decision.Outcome.REJECTED,
                ends_agreement=True,
                recorded_by=coordinator,
            )
        if self.stage in (Stage.CLOSED, Stage.WITHDRAWN, Stage.REJECTED):
            self.ended_at = timezone.now()
            self.end_reason = self.end_reason or "Avslutad."
        self.save()


def _freeze(revision, actor):
    pdf, fingerprint = render_revision_pdf(revision)
    document = AgreementDocument(
        agreement=revision.agreement,
        revision=revision,
        kind=AgreementDocument.Kind.DECISION_MATERIAL,
        size=len(pdf),
        sha256=hashlib.sha256(pdf).hexdigest(),
        fingerprint=fingerprint,
        created_by=actor,
    )
    document.file.save(document.filename, ContentFile(pdf), save=False)
    document.save()


class DecisionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Decision

    agreement = factory.SubFactory(AgreementFactory, in_approval=True)
    round = factory.LazyAttribute(lambda d: d.agreement.review_round)
    party = Party.REGION
    body = "Kultur- och bildningsnämnden"
    meeting_date = factory.LazyAttribute(lambda d: _decided_on(d.agreement))
    paragraph = factory.Sequence(lambda n: f"§ {n + 1}")
    outcome = Decision.Outcome.APPROVED
    recorded_by = factory.SubFactory(UserFactory)


class SignatureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Signature

    agreement = factory.SubFactory(AgreementFactory, in_signing=True)
    party = Party.REGION
    signatory_name = factory.Faker("name", locale="sv_SE")
    signatory_title = "Ordförande"
    signed_on = factory.LazyAttribute(lambda s: _decided_on(s.agreement))
    recorded_by = factory.SubFactory(UserFactory)


class FollowUpFactory(factory.django.DjangoModelFactory):
    """A year's follow-up of an agreement in force, with an entry per area (as
    the process opens it). ``status`` and the who/when fields as given."""

    class Meta:
        model = FollowUp
        skip_postgeneration_save = True

    agreement = factory.SubFactory(AgreementFactory, in_force=True)
    year = factory.LazyAttribute(lambda f: f.agreement.plan_period.starts_on.year)

    @factory.post_generation
    def entries(self, create, extracted, **kwargs):
        if create:
            for area in self.agreement.active_areas():
                FollowUpEntry.objects.create(follow_up=self, area=area)


class DialogueMeetingFactory(factory.django.DjangoModelFactory):
    """A meeting with the given participants (``participants=[...]``, default Mora)."""

    class Meta:
        model = DialogueMeeting
        skip_postgeneration_save = True

    held_on = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=7))
    place = "Dalarnas museum, Falun"
    created_by = factory.SubFactory(UserFactory)

    @factory.post_generation
    def participants(self, create, extracted, **kwargs):
        if create:
            self.participants.set(extracted if extracted is not None else [get_municipality("Mora")])
            self.save()  # one history row that records the participants, as the service writes it


class ActionPointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ActionPoint

    meeting = factory.SubFactory(DialogueMeetingFactory)
    municipality = factory.LazyFunction(lambda: get_municipality("Mora"))
    description = "Bjuda in till nästa träff."
    owner_name = "Lars Ek, kulturchef"
    due_on = factory.LazyAttribute(lambda p: p.meeting.held_on + datetime.timedelta(days=30))


def priority(code, period=None):
    """One of the plan priorities the reference data loads (2023–2026: chefsnatverk, kulturskolor, …)."""
    return PlanPriority.objects.get(plan_period=period or current_period(), code=code)
