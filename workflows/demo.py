"""Agreements in any stage, driven through the real services and the real
process: used by seed_demo (demo data) and by the test factories."""

import datetime
from pathlib import Path

from django.utils import timezone

from cases.agreements import services as case_services
from cases.follow_ups import services as follow_up_services
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


def decision_date(agreement, on=None):
    """A plausible meeting date: ``on`` if given, else today, or the period's
    last day if it has passed."""
    return on or min(timezone.localdate(), agreement.plan_period.ends_on)


def open_agreement(*, coordinator, municipality, plan_period, title=None, opened_on=None):
    """Open an agreement; ``opened_on`` back-dates its opening for demo agreements
    with a past (decisions cannot be dated before the agreement was opened). The
    change is saved as a history row of its own, marked as demo data."""
    agreement = services.agreement_open(
        actor=coordinator,
        municipality=municipality,
        plan_period=plan_period,
        title=title or f"Överenskommelse om kultursamverkan {municipality.name} {plan_period.name}",
    )
    if opened_on is not None:
        from accounts import audit_reasons as reasons
        from accounts.history import audit_context

        with audit_context(actor=coordinator, reason=reasons.DEMO_DATA):
            agreement.created_at = timezone.make_aware(datetime.datetime.combine(opened_on, datetime.time(9)))
            agreement.save()
    return agreement


def advance(agreement, *, to, coordinator, head, with_areas=True, decided_on=None):
    """Drive ``agreement`` forward to stage ``to`` (one of ORDER). Decisions and
    signatures are dated ``decided_on`` (default today)."""
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
                        meeting_date=decision_date(agreement, decided_on),
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
                        signed_at=timezone.make_aware(
                            datetime.datetime.combine(decision_date(agreement, decided_on), datetime.time(12))
                        ),
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
        opened_on = IN_FORCE_SINCE - datetime.timedelta(days=60) if stage == Stage.IN_FORCE else None
        agreement = open_agreement(
            coordinator=coordinator, municipality=municipality, plan_period=period, opened_on=opened_on
        )
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
        elif stage == Stage.IN_FORCE:
            # Signed early in the period, so that it has a living history:
            # follow-ups for the past years, this year's waiting, and a renewal.
            advance(agreement, to=stage, coordinator=coordinator, head=head, decided_on=IN_FORCE_SINCE)
            live_through_follow_ups(agreement, coordinator=coordinator, head=head)
            renew_into_next_period(agreement, coordinator=coordinator)
        else:
            advance(agreement, to=stage, coordinator=coordinator, head=head)
        created += 1
    return created


IN_FORCE_SINCE = datetime.date(2023, 3, 15)
PROGRESS = ["on_track", "done", "delayed", "on_track"]


def live_through_follow_ups(agreement, *, coordinator, head):
    """Fire the due timers and take the follow-ups of the years gone by (each
    handed in and accepted, one returned once); leave the latest one open."""
    from viewflow.workflow.timers import fire_due_timers

    from cases.models import FollowUp

    from .selectors import open_steps_of

    while True:
        fire_due_timers()
        waiting = [t.flow_task.name for t in open_steps_of(agreement)]
        follow_up = FollowUp.objects.filter(agreement=agreement).order_by("-year").first()
        if "write_follow_up" not in waiting or follow_up is None or follow_up.year >= timezone.localdate().year:
            return
        entries = [
            follow_up_services.EntryInput(
                area_id=entry.area_id,
                progress=PROGRESS[(follow_up.year + i) % len(PROGRESS)],
                narrative=f"Arbetet {follow_up.year}: träffar och gemensamma aktiviteter har genomförts enligt plan.",
            )
            for i, entry in enumerate(follow_up.entries.all())
        ]
        for returned in (True, False) if follow_up.year == 2024 else (False,):
            run_step(
                agreement=agreement,
                step_name="write_follow_up",
                actor=head,
                perform=lambda e=entries, f=follow_up: follow_up_services.follow_up_report(
                    actor=head, follow_up=f, entries=e, submit=True
                ),
            )
            run_step(
                agreement=agreement,
                step_name="review_follow_up",
                actor=coordinator,
                perform=lambda r=returned, f=follow_up: follow_up_services.follow_up_review(
                    actor=coordinator,
                    follow_up=f,
                    accept=not r,
                    comment="Beskriv gärna vad kulturskolorna har gjort tillsammans." if r else "",
                ),
            )


def renew_into_next_period(agreement, *, coordinator):
    from cases.models import Agreement, PlanPeriod

    following = PlanPeriod.objects.filter(starts_on__gt=agreement.plan_period.ends_on, is_active=True).first()
    if following and not Agreement.objects.filter(municipality=agreement.municipality, plan_period=following).exists():
        services.agreement_renew(actor=coordinator, agreement=agreement, plan_period=following)


EARLIER_AGREEMENTS_FILE = Path(__file__).parent / "demo_data" / "overenskommelser-2019-2022.csv"


def seed_earlier_agreements():
    """Import the demo municipalities' 2019–2022 agreements from the spreadsheet in
    the repository, through the same import as the coordinators' page. Rows whose
    municipality already has an agreement for the period are left out, so a
    second run imports nothing. Returns how many were imported."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from accounts.models import User
    from cases.agreements import imports
    from cases.models import Agreement

    uploaded = SimpleUploadedFile(EARLIER_AGREEMENTS_FILE.name, EARLIER_AGREEMENTS_FILE.read_bytes())
    rows = imports.read_spreadsheet(uploaded)
    taken = set(Agreement.objects.live().values_list("municipality__kommunkod", "plan_period__name"))
    rows = [row for row in rows if (row["kommunkod"], row["planperiod"]) not in taken]
    if not rows:
        return 0
    coordinator = User.objects.get(email="samordnare@regiondalarna.se")
    return len(services.agreements_import(actor=coordinator, file_name=uploaded.name, rows=rows))
