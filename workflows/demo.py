"""Agreements in any stage, driven through the real services and the real
process: used by seed_demo (demo data) and by the test factories."""

from django.utils import timezone

from cases import services as case_services
from cases.models import Decision, Party, PlanPriority, Stage

from . import services
from .runner import run_step

# The order in which an agreement passes through its stages.
ORDER = [Stage.DRAFTING, Stage.REVIEW, Stage.APPROVAL, Stage.SIGNING, Stage.IN_FORCE]

SAMPLE_AREAS = [
    (
        "Kommunalt chefsnätverk inom kultur",
        "chefsnatverk",
        "Ett levande nätverk för kommunernas kulturchefer som träffas fyra gånger per år.",
        "Regionen samordnar nätverket och står för lokaler och moderator.",
        "Kommunen deltar med kulturchefen och delar erfarenheter från sitt arbete.",
    ),
    (
        "Kulturskolan i samverkan",
        "kulturskolor",
        "Utreda regionalt stöd som främjar samverkan mellan kommunernas kulturskolor.",
        "Regionen leder utredningen och bjuder in till workshops.",
        "Kommunen bidrar med underlag om kulturskolans verksamhet.",
    ),
]


def _priority(agreement, code):
    return PlanPriority.objects.filter(plan_period=agreement.plan_period, code=code).first()


def sample_areas(agreement):
    areas = []
    for title, code, goal, region, municipality in SAMPLE_AREAS:
        priority = _priority(agreement, code)
        areas.append(
            case_services.AreaInput(
                title=title,
                goal=goal,
                region_commitment=region,
                municipality_commitment=municipality,
                contacts="Anna Berg, regional samordnare, anna.berg@regiondalarna.se",
                priorities=[priority] if priority else [],
            )
        )
    return areas


def decision_date(agreement):
    """A plausible meeting date: today, or the period's last day if it has passed."""
    return min(timezone.localdate(), agreement.plan_period.ends_on)


def open_agreement(*, coordinator, municipality, plan_period, title=None):
    return services.agreement_open(
        actor=coordinator,
        municipality=municipality,
        plan_period=plan_period,
        title=title or f"Överenskommelse om kultursamverkan {municipality.name} {plan_period.name}",
    )


def advance(agreement, *, to, coordinator, head, with_areas=True):
    """Drive ``agreement`` forward to stage ``to`` (one of ORDER)."""
    agreement.refresh_from_db()
    while ORDER.index(agreement.stage) < ORDER.index(to):
        stage = agreement.stage
        if stage == Stage.DRAFTING:
            areas = sample_areas(agreement) if with_areas and not agreement.active_areas().exists() else None
            run_step(
                agreement=agreement,
                step_name="draft",
                actor=coordinator,
                perform=lambda a=areas: case_services.agreement_submit_for_review(
                    actor=coordinator, agreement=agreement, title=agreement.title if a else None, areas=a
                ),
            )
        elif stage == Stage.REVIEW:
            run_step(
                agreement=agreement,
                step_name="review",
                actor=head,
                perform=lambda: case_services.review_accept(actor=head, agreement=agreement),
            )
        elif stage == Stage.APPROVAL:
            for party, step, actor, body in (
                (Party.REGION, "region_decision", coordinator, "Kultur- och bildningsnämnden"),
                (Party.MUNICIPALITY, "municipal_decision", head, "Kommunstyrelsen"),
            ):
                run_step(
                    agreement=agreement,
                    step_name=step,
                    actor=actor,
                    perform=lambda p=party, a=actor, b=body: case_services.decision_record(
                        actor=a,
                        agreement=agreement,
                        party=p,
                        body=b,
                        meeting_date=decision_date(agreement),
                        paragraph="§ 12",
                        outcome=Decision.Outcome.APPROVED,
                    ),
                )
        elif stage == Stage.SIGNING:
            for party, step, actor in (
                (Party.REGION, "sign_region", coordinator),
                (Party.MUNICIPALITY, "sign_municipality", head),
            ):
                run_step(
                    agreement=agreement,
                    step_name=step,
                    actor=actor,
                    perform=lambda p=party, a=actor: case_services.signature_record(
                        actor=a,
                        agreement=agreement,
                        party=p,
                        signatory_name=a.full_name,
                        signatory_title=a.title or "Kulturchef",
                        signed_on=decision_date(agreement),
                    ),
                )
        agreement.refresh_from_db()
        if agreement.stage == stage:
            raise RuntimeError(f"{agreement} did not leave {stage}")
    return agreement


# (kommunkod, stage, cultural head's e-mail) of the demo agreements in 2023–2026
DEMO_AGREEMENTS = [
    ("2080", Stage.REVIEW, "kulturchef@falun.se"),
    ("2062", Stage.APPROVAL, "kulturchef@mora.se"),
    ("2085", Stage.IN_FORCE, "kulturchef@ludvika.se"),
    ("2029", Stage.SIGNING, "kulturchef@leksand.se"),
    ("2081", Stage.DRAFTING, "kulturchef@borlange.se"),
    ("2031", Stage.WITHDRAWN, "kulturchef@rattvik.se"),
]


def seed_demo_agreements():
    """Agreements in every stage for several municipalities; skips those that exist."""
    from accounts.models import Organisation, User
    from cases.models import Agreement, PlanPeriod

    period = PlanPeriod.objects.get(name="2023–2026")
    coordinator = User.objects.get(email="samordnare@regiondalarna.se")
    created = 0
    for kommunkod, stage, head_email in DEMO_AGREEMENTS:
        municipality = Organisation.objects.get(kommunkod=kommunkod)
        if Agreement.objects.filter(municipality=municipality, plan_period=period).exists():
            continue
        head = User.objects.get(email=head_email)
        agreement = open_agreement(coordinator=coordinator, municipality=municipality, plan_period=period)
        if stage == Stage.WITHDRAWN:
            advance(agreement, to=Stage.REVIEW, coordinator=coordinator, head=head)
            services.agreement_withdraw(
                actor=coordinator, agreement=agreement, reason="Kommunen vill avvakta nästa planperiod."
            )
        elif stage == Stage.DRAFTING:
            run_step(
                agreement=agreement,
                step_name="draft",
                actor=coordinator,
                complete=False,
                perform=lambda a=agreement: case_services.agreement_save_draft(
                    actor=coordinator, agreement=a, title=a.title, areas=sample_areas(a)
                ),
            )
        else:
            advance(agreement, to=stage, coordinator=coordinator, head=head)
        created += 1
    return created
