"""cases.agreements.services, called directly: each rule, and the history rows
each step writes (which rows, who, why). The state comes from AgreementFactory."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts import audit_reasons as reasons
from accounts.models import Role
from cases.agreements import services
from cases.agreements.services import AreaInput
from cases.exceptions import StepNotAllowed
from cases.models import Agreement, Decision, Party, PlanPeriod, Stage
from tests.cases.helpers import TODAY, history_written, rows
from tests.factories import AgreementFactory, CollaborationAreaFactory, municipality, priority, user_with_role

pytestmark = pytest.mark.django_db

APPROVED, REJECTED, RETURNED = Decision.Outcome.APPROVED, Decision.Outcome.REJECTED, Decision.Outcome.RETURNED
PDF = b"%PDF-1.4\n%%EOF\n"


def area_input(title="Kulturskolan i samverkan", **changes):
    values = {
        "title": title,
        "goal": "Utreda regionalt stöd.",
        "region_commitment": "Regionen leder utredningen.",
        "municipality_commitment": "Kommunen bidrar med underlag.",
    }
    return AreaInput(**{**values, **changes})


def fresh(agreement):
    return Agreement.objects.get(pk=agreement.pk)


# ---------------------------------------------------------------------------
# Opening and drafting
# ---------------------------------------------------------------------------


def test_agreement_create_opens_a_draft_with_the_next_case_number(coordinator):
    period = PlanPeriod.objects.get(name="2027–2030")
    with history_written() as written:
        first = services.agreement_create(
            actor=coordinator, municipality=municipality("Orsa"), plan_period=period, title="  Kultur i Orsa "
        )
        second = services.agreement_create(
            actor=coordinator, municipality=municipality("Mora"), plan_period=period, title="Kultur i Mora"
        )
    assert (first.stage, first.title, first.created_by) == (Stage.DRAFTING, "Kultur i Orsa", coordinator)
    number = int(first.case_number.rsplit("/", 1)[1])
    assert first.case_number == f"RD {TODAY.year}/{number:04d}"
    assert second.case_number == f"RD {TODAY.year}/{number + 1:04d}"
    assert written == rows(
        ("agreement", "+", coordinator, reasons.AGREEMENT_OPENED),
        ("agreement", "+", coordinator, reasons.AGREEMENT_OPENED),
    )


def test_agreement_create_refuses_a_second_live_agreement_and_a_closed_period(coordinator):
    AgreementFactory(municipality=municipality("Mora"))
    with pytest.raises(ValidationError) as error:
        services.agreement_create(
            actor=coordinator,
            municipality=municipality("Mora"),
            plan_period=AgreementFactory._meta.model.objects.get().plan_period,
            title="Igen",
        )
    assert "municipality" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        services.agreement_create(
            actor=coordinator,
            municipality=municipality("Orsa"),
            plan_period=PlanPeriod.objects.get(name="2019–2022"),
            title=" ",
        )
    assert set(error.value.message_dict) == {"plan_period", "title"}
    assert Agreement.objects.count() == 1


def test_a_withdrawn_agreement_does_not_block_a_new_one(coordinator):
    old = AgreementFactory(withdrawn=True)
    agreement = services.agreement_create(
        actor=coordinator, municipality=old.municipality, plan_period=old.plan_period, title="Nytt försök"
    )
    assert agreement.stage == Stage.DRAFTING


def test_only_those_who_draft_may_open(mora_head, auditor):
    for user in (mora_head, auditor):
        with pytest.raises(PermissionDenied):
            services.agreement_create(
                actor=user,
                municipality=municipality("Mora"),
                plan_period=PlanPeriod.objects.get(name="2027–2030"),
                title="x",
            )
    assert not Agreement.objects.exists()


def test_save_draft_adds_changes_and_removes_areas(coordinator):
    agreement = AgreementFactory(areas=2)
    kept, removed = agreement.active_areas().order_by("position")
    with history_written() as written:
        services.agreement_save_draft(
            actor=coordinator,
            agreement=agreement,
            title="Ny titel",
            areas=[
                area_input(kept.title, id=kept.pk, goal="Ett nytt mål."),
                area_input(removed.title, id=removed.pk, remove=True),
                area_input("Läsfrämjande"),
            ],
        )
    agreement = fresh(agreement)
    assert agreement.title == "Ny titel"
    assert [(a.title, a.goal, a.position) for a in agreement.active_areas().order_by("position")] == [
        (kept.title, "Ett nytt mål.", 1),
        ("Läsfrämjande", "Utreda regionalt stöd.", 3),
    ]
    removed.refresh_from_db()
    assert removed.removed_at is not None  # kept, marked removed
    why = reasons.DRAFT_SAVED
    assert written == rows(
        ("agreement", "~", coordinator, why),
        ("collaborationarea", "+", coordinator, why),
        ("collaborationarea", "~", coordinator, why),
        ("collaborationarea", "~", coordinator, why),
    )


def test_save_draft_writes_nothing_when_nothing_changed(coordinator):
    agreement = AgreementFactory(areas=1)
    area = agreement.active_areas().get()
    same = area_input(
        area.title,
        id=area.pk,
        goal=area.goal,
        region_commitment=area.region_commitment,
        municipality_commitment=area.municipality_commitment,
    )
    with history_written() as written:
        services.agreement_save_draft(actor=coordinator, agreement=agreement, title=agreement.title, areas=[same])
    assert written == []


def test_save_draft_refuses_foreign_areas_and_priorities_of_another_period(coordinator):
    agreement = AgreementFactory()
    other = CollaborationAreaFactory(agreement__municipality=municipality("Orsa"))  # of another agreement
    with pytest.raises(ValidationError):
        services.agreement_save_draft(
            actor=coordinator, agreement=agreement, title="T", areas=[area_input(other.title, id=other.pk)]
        )
    next_period = PlanPeriod.objects.get(name="2027–2030")
    foreign = next_period.priorities.first() or next_period.priorities.create(code="x", title="Annan period")
    with pytest.raises(ValidationError):
        services.agreement_save_draft(
            actor=coordinator, agreement=agreement, title="T", areas=[area_input(priorities=[foreign])]
        )
    assert agreement.active_areas().count() == 1


def test_save_draft_only_while_drafting(coordinator):
    with pytest.raises(StepNotAllowed):
        services.agreement_save_draft(
            actor=coordinator, agreement=AgreementFactory(in_review=True), title="T", areas=[area_input()]
        )


def test_submit_for_review_freezes_the_round_and_sends_it(coordinator):
    agreement = AgreementFactory(areas=2)
    with history_written() as written:
        revision = services.agreement_submit_for_review(actor=coordinator, agreement=agreement)
    assert fresh(agreement).stage == Stage.REVIEW
    assert (revision.round, revision.title, revision.created_by) == (1, agreement.title, coordinator)
    assert sorted(area["title"] for area in revision.content) == sorted(a.title for a in agreement.active_areas())
    why = reasons.draft_sent_for_review(round=1)
    assert written == rows(("agreement", "~", coordinator, why), ("agreementrevision", "+", coordinator, why))


def test_submit_for_review_needs_an_area(coordinator):
    agreement = AgreementFactory(areas=0)
    with pytest.raises(ValidationError):
        services.agreement_submit_for_review(actor=coordinator, agreement=agreement)
    assert fresh(agreement).stage == Stage.DRAFTING


# ---------------------------------------------------------------------------
# Municipal review
# ---------------------------------------------------------------------------


def test_review_accept_sends_the_draft_to_approval(mora_head):
    agreement = AgreementFactory(in_review=True)
    with history_written() as written:
        services.review_accept(actor=mora_head, agreement=agreement, comment=" Bra! ")
    agreement = fresh(agreement)
    assert agreement.stage == Stage.APPROVAL
    comment = agreement.comments.get()
    assert (comment.text, comment.resolved, comment.author, comment.round) == ("Bra!", True, mora_head, 1)
    why = reasons.DRAFT_ACCEPTED_IN_REVIEW
    document = agreement.documents.get()  # the decision material, frozen as it enters approval
    frozen = reasons.decision_material_frozen(round=1, sha256=document.sha256)
    assert written == rows(
        ("agreement", "~", mora_head, why),
        ("agreementdocument", "+", mora_head, frozen),
        ("reviewcomment", "+", mora_head, why),
    )


def test_review_is_the_municipality_s_own(coordinator, falun_head, mora_official):
    agreement = AgreementFactory(in_review=True)
    for user in (coordinator, falun_head, mora_official):
        with pytest.raises(PermissionDenied):
            services.review_accept(actor=user, agreement=agreement)
    assert fresh(agreement).stage == Stage.REVIEW


def test_review_request_changes_starts_a_new_round(mora_head):
    agreement = AgreementFactory(in_review=True)
    area = agreement.active_areas().get()
    with history_written() as written:
        comments = services.review_request_changes(
            actor=mora_head,
            agreement=agreement,
            comments=[(None, "Mer om biblioteket"), (area, "Tydligare mål"), (None, " ")],
        )
    agreement = fresh(agreement)
    assert (agreement.stage, agreement.review_round) == (Stage.DRAFTING, 2)
    assert [(c.area, c.text, c.round) for c in comments] == [
        (None, "Mer om biblioteket", 1),
        (area, "Tydligare mål", 1),
    ]
    why = reasons.changes_requested_in_review(round=1)
    assert written == rows(
        ("agreement", "~", mora_head, why),
        ("reviewcomment", "+", mora_head, why),
        ("reviewcomment", "+", mora_head, why),
    )


def test_review_request_changes_needs_a_comment_on_this_agreement(mora_head):
    agreement = AgreementFactory(in_review=True)
    with pytest.raises(ValidationError):
        services.review_request_changes(actor=mora_head, agreement=agreement, comments=[(None, "  ")])
    foreign = CollaborationAreaFactory(agreement__municipality=municipality("Orsa"))
    with pytest.raises(ValidationError):
        services.review_request_changes(actor=mora_head, agreement=agreement, comments=[(foreign, "Hm")])
    assert fresh(agreement).stage == Stage.REVIEW and not agreement.comments.exists()


# ---------------------------------------------------------------------------
# Attachments
# ---------------------------------------------------------------------------


def test_attachment_add_keeps_the_file_s_facts(coordinator):
    agreement = AgreementFactory()
    with history_written() as written:
        attachment = services.attachment_add(
            actor=coordinator, agreement=agreement, uploaded=SimpleUploadedFile("bilaga.pdf", PDF)
        )
    assert (attachment.original_name, attachment.content_type, attachment.size) == (
        "bilaga.pdf",
        "application/pdf",
        len(PDF),
    )
    assert len(attachment.sha256) == 64 and attachment.uploaded_by == coordinator
    assert written == rows(("attachment", "+", coordinator, reasons.ATTACHMENT_ADDED))


def test_readers_may_not_attach(auditor):
    with pytest.raises(PermissionDenied):
        services.attachment_add(
            actor=auditor, agreement=AgreementFactory(), uploaded=SimpleUploadedFile("bilaga.pdf", PDF)
        )


# ---------------------------------------------------------------------------
# Political approval
# ---------------------------------------------------------------------------


def decide(agreement, actor, party, outcome=APPROVED, **changes):
    values = {
        "body": "Kultur- och bildningsnämnden",
        "meeting_date": TODAY,  # not before the agreement was opened (today)
        "paragraph": "45",
        "outcome": outcome,
    }
    return services.decision_record(actor=actor, agreement=agreement, party=party, **{**values, **changes})


@pytest.mark.parametrize(
    ("value", "expected"), [("45", "§ 45"), ("§45", "§ 45"), ("45 §", "§ 45"), ("§ 12 B", "§ 12 b")]
)
def test_paragraphs_are_written_one_way(value, expected):
    assert services.normalise_paragraph(value) == expected


def test_the_first_approval_writes_only_the_decision(coordinator):
    agreement = AgreementFactory(in_approval=True)
    with history_written() as written:
        decision = decide(agreement, coordinator, Party.REGION)
    assert (decision.paragraph, decision.round, decision.recorded_by) == ("§ 45", 1, coordinator)
    assert fresh(agreement).stage == Stage.APPROVAL
    assert written == rows(
        ("decision", "+", coordinator, reasons.decision_recorded(party=Party.REGION, outcome=APPROVED))
    )


def test_both_approvals_send_the_agreement_to_signing(coordinator, mora_official):
    agreement = AgreementFactory(in_approval=True)
    decide(agreement, coordinator, Party.REGION)
    with history_written() as written:
        decide(agreement, mora_official, Party.MUNICIPALITY)
    assert fresh(agreement).stage == Stage.SIGNING
    why = reasons.decision_recorded(party=Party.MUNICIPALITY, outcome=APPROVED)
    assert written == rows(("agreement", "~", mora_official, why), ("decision", "+", mora_official, why))


def test_a_return_sends_the_agreement_back_to_drafting_for_a_new_round(coordinator):
    agreement = AgreementFactory(in_approval=True)
    decide(agreement, coordinator, Party.REGION, RETURNED)
    agreement = fresh(agreement)
    assert (agreement.stage, agreement.review_round) == (Stage.DRAFTING, 2)


def test_a_rejection_that_ends_the_agreement(mora_head):
    agreement = AgreementFactory(in_approval=True)
    decide(agreement, mora_head, Party.MUNICIPALITY, REJECTED, ends_agreement=True)
    agreement = fresh(agreement)
    assert agreement.stage == Stage.REJECTED and agreement.ended_at is not None
    assert "Kultur- och bildningsnämnden § 45" in agreement.end_reason  # who rejected it, and where in the minutes


def test_decision_rules(coordinator, mora_head):
    agreement = AgreementFactory(in_approval=True)
    with pytest.raises(PermissionDenied):
        decide(agreement, mora_head, Party.REGION)  # the region's decision is the coordinator's
    with pytest.raises(ValidationError) as error:
        decide(
            agreement,
            coordinator,
            Party.REGION,
            APPROVED,
            body=" ",
            paragraph="fyrtiofem",
            meeting_date=TODAY + datetime.timedelta(days=1),
            ends_agreement=True,
        )
    assert set(error.value.message_dict) == {"body", "paragraph", "meeting_date", "ends_agreement"}
    with pytest.raises(ValidationError) as error:
        decide(agreement, coordinator, Party.REGION, meeting_date=datetime.date(2022, 12, 1))
    assert "meeting_date" in error.value.message_dict  # outside the plan period
    decide(agreement, coordinator, Party.REGION)
    with pytest.raises(StepNotAllowed):
        decide(agreement, coordinator, Party.REGION)  # once per party and round
    with pytest.raises(StepNotAllowed):
        decide(AgreementFactory(in_review=True, municipality=municipality("Orsa")), coordinator, Party.REGION)
    assert Decision.objects.filter(agreement=agreement).count() == 1


def test_a_decision_with_its_minutes(coordinator):
    agreement = AgreementFactory(in_approval=True)
    with history_written() as written:
        decision = decide(agreement, coordinator, Party.REGION, minutes_file=SimpleUploadedFile("protokoll.pdf", PDF))
    assert decision.minutes.kind == "minutes" and decision.minutes.agreement == agreement
    assert written == rows(
        ("attachment", "+", coordinator, reasons.ATTACHMENT_ADDED),
        ("decision", "+", coordinator, reasons.decision_recorded(party=Party.REGION, outcome=APPROVED)),
    )


# ---------------------------------------------------------------------------
# Signing, withdrawal, closing
# ---------------------------------------------------------------------------


def sign(agreement, actor, party, signed_on=None, **changes):
    if signed_on is not None:  # seeding a date in the past, as the demo data does
        changes["signed_at"] = timezone.make_aware(datetime.datetime.combine(signed_on, datetime.time(12)))
    return services.signature_record(actor=actor, agreement=agreement, party=party, **changes)


def test_both_signatures_put_the_agreement_in_force_from_the_later_one(coordinator, mora_head):
    agreement = AgreementFactory(in_signing=True)
    with history_written() as written:
        sign(agreement, mora_head, Party.MUNICIPALITY, signed_on=TODAY - datetime.timedelta(days=3))
    assert written == rows(("signature", "+", mora_head, reasons.signature_recorded(party=Party.MUNICIPALITY)))
    assert fresh(agreement).stage == Stage.SIGNING
    with history_written() as written:
        sign(agreement, coordinator, Party.REGION, signed_on=TODAY - datetime.timedelta(days=1))
    agreement = fresh(agreement)
    assert (agreement.stage, agreement.in_force_since) == (Stage.IN_FORCE, TODAY - datetime.timedelta(days=1))
    why = reasons.signature_recorded(party=Party.REGION)
    # The last signature also queues the signed agreement's production (the worker seals it; #12 item 4).
    assert written == rows(
        ("agreement", "~", coordinator, why),
        ("documentproduction", "+", coordinator, reasons.SIGNED_AGREEMENT_QUEUED),
        ("signature", "+", coordinator, why),
    )


def test_a_signature_cannot_be_dated_before_both_decisions(coordinator):
    """Issue #12: a signing date before the political decisions cannot be true."""
    agreement = AgreementFactory(in_signing=True)
    last_decided = max(agreement.decisions.values_list("meeting_date", flat=True))
    with pytest.raises(ValidationError) as error:
        sign(agreement, coordinator, Party.REGION, signed_on=last_decided - datetime.timedelta(days=1))
    assert error.value.message_dict["signed_on"] == [
        f"Underskriftsdatumet kan inte ligga före båda parternas beslut: det senaste beslutet fattades {last_decided}."
    ]
    assert not agreement.signatures.exists()
    assert sign(agreement, coordinator, Party.REGION, signed_on=last_decided).signed_on == last_decided


def test_signature_rules(coordinator, mora_official, mora_head):
    agreement = AgreementFactory(in_signing=True)
    with pytest.raises(PermissionDenied):
        sign(agreement, mora_official, Party.MUNICIPALITY)  # an official decides, but does not sign
    with pytest.raises(PermissionDenied):
        sign(agreement, coordinator, Party.MUNICIPALITY)  # nor may a coordinator sign for the cultural head
    with pytest.raises(ValidationError) as error:
        sign(agreement, coordinator, Party.REGION, signed_on=TODAY + datetime.timedelta(days=1))
    assert set(error.value.message_dict) == {"signed_on"}
    with pytest.raises(ValidationError) as error:  # a paper signature needs its scan
        sign(agreement, coordinator, Party.MUNICIPALITY, auth_method="paper", signatory=mora_head)
    assert set(error.value.message_dict) == {"signed_copy"}
    with pytest.raises(ValidationError) as error:  # and a signatory who signs for that party
        sign(agreement, coordinator, Party.MUNICIPALITY, auth_method="paper", signatory=mora_official)
    assert set(error.value.message_dict) == {"signatory", "signed_copy"}
    signature = sign(agreement, coordinator, Party.REGION)
    # Who and when come from the account, its membership and the server's clock.
    assert (signature.signatory, signature.signatory_name, signature.role) == (
        coordinator,
        "Anna Samordnare",
        "coordinator",
    )
    assert signature.organisation.kind == "region" and signature.signed_on == TODAY
    assert signature.auth_method == "password"
    with pytest.raises(StepNotAllowed):
        sign(agreement, coordinator, Party.REGION)
    assert agreement.signatures.count() == 1


def test_withdrawal_keeps_the_reason(coordinator):
    agreement = AgreementFactory(in_approval=True)
    with history_written() as written:
        services.agreement_withdraw(actor=coordinator, agreement=agreement, reason=" Kommunen avstår. ")
    agreement = fresh(agreement)
    assert (agreement.stage, agreement.end_reason) == (Stage.WITHDRAWN, "Kommunen avstår.")
    assert written == rows(("agreement", "~", coordinator, reasons.agreement_withdrawn(reason="Kommunen avstår.")))


def test_withdrawal_needs_a_reason_and_a_live_agreement(coordinator, mora_head):
    with pytest.raises(ValidationError):
        services.agreement_withdraw(actor=coordinator, agreement=AgreementFactory(), reason=" ")
    with pytest.raises(StepNotAllowed):
        services.agreement_withdraw(actor=coordinator, agreement=AgreementFactory(closed=True), reason="x")
    with pytest.raises(PermissionDenied):
        services.agreement_withdraw(
            actor=mora_head, agreement=AgreementFactory(municipality=municipality("Orsa")), reason="x"
        )


def test_an_agreement_closes_only_after_its_period(coordinator):
    ended = AgreementFactory(in_force=True, plan_period=PlanPeriod.objects.get(name="2019–2022"))
    with history_written() as written:
        services.agreement_close(agreement=ended)
    ended = fresh(ended)
    assert ended.stage == Stage.CLOSED and ended.ended_at is not None
    assert written == rows(("agreement", "~", None, reasons.AGREEMENT_CLOSED))  # the process closes it: no actor
    with pytest.raises(StepNotAllowed):
        services.agreement_close(agreement=AgreementFactory(in_force=True, municipality=municipality("Orsa")))


# ---------------------------------------------------------------------------
# Renewal
# ---------------------------------------------------------------------------


def test_renewal_copies_the_areas_with_the_matching_priorities(coordinator):
    old_period, new_period = PlanPeriod.objects.get(name="2023–2026"), PlanPeriod.objects.get(name="2027–2030")
    source = AgreementFactory(in_force=True, areas=0)
    CollaborationAreaFactory(agreement=source, title="Nätverket", priorities=[priority("chefsnatverk", old_period)])
    next_priority = new_period.priorities.create(code="chefsnatverk", title="Chefsnätverket")
    services.check_renewal(agreement=source, plan_period=new_period)
    target = AgreementFactory(plan_period=new_period, areas=0, predecessor=source)
    with history_written() as written:
        copies = services.agreement_copy_areas(actor=coordinator, source=source, target=target)
    (copy,) = copies
    assert (copy.title, copy.copied_from, list(copy.priorities.all())) == (
        "Nätverket",
        source.active_areas().get(),
        [next_priority],
    )
    why = reasons.areas_copied_from(case_number=source.case_number)
    assert {(model, who, str(reason)) for model, _change, who, reason in written} == {
        ("collaborationarea", coordinator, why)
    }
    with pytest.raises(ValidationError):
        services.check_renewal(agreement=source, plan_period=new_period)  # target is live there now


def test_only_an_agreement_in_force_or_closed_is_renewed_and_into_a_later_period():
    new_period = PlanPeriod.objects.get(name="2027–2030")
    with pytest.raises(ValidationError):
        services.check_renewal(agreement=AgreementFactory(in_signing=True), plan_period=new_period)
    with pytest.raises(ValidationError):
        services.check_renewal(
            agreement=AgreementFactory(in_force=True, municipality=municipality("Orsa")),
            plan_period=PlanPeriod.objects.get(name="2019–2022"),
        )


def test_who_acts_for_a_municipality_is_decided_by_the_role(coordinator):
    """The services ask accounts.permissions: a coordinator drafts for every
    municipality, a municipal head for none."""
    head = user_with_role(Role.CULTURAL_HEAD, "Orsa")
    agreement = AgreementFactory(municipality=municipality("Orsa"))
    services.agreement_save_draft(actor=coordinator, agreement=agreement, title="Av samordnaren", areas=[])
    with pytest.raises(PermissionDenied):
        services.agreement_save_draft(actor=head, agreement=agreement, title="Av kulturchefen", areas=[])
