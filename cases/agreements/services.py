"""Business steps on agreements. One function per step: keyword-only, the
acting user passed explicitly, atomic, and each write leaves history that says
who, when and why (through ``audit_context``).

Each step checks the actor's permission (accounts.permissions) and the
agreement's stage; a step at the wrong stage raises StepNotAllowed, bad input
raises ValidationError with the field it concerns, and nothing is saved."""

import datetime
import hashlib
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts import audit_reasons as reasons
from accounts.history import audit_context, current_audit_context
from accounts.models import Organisation
from accounts.permissions import (
    Action,
    can_attach,
    can_record_paper_signature,
    require,
    signing_membership,
)
from background.models import Webhook
from background.webhooks import queue_event

from ..exceptions import StepNotAllowed
from ..files import validate_upload
from .compare import snapshot
from .documents import render_revision_pdf
from .models import (
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
    ReviewComment,
    Signature,
    SignatureMethod,
    Stage,
)

Event = Webhook.Event


def _stage_changed(agreement, before):
    """Tell the webhooks that the agreement moved from stage ``before`` (in this transaction)."""
    if agreement.stage != before:
        queue_event(Event.STAGE_CHANGED, agreement, {"from": before, "to": agreement.stage})


def require_stage(agreement, *stages):
    if agreement.stage not in stages:
        raise StepNotAllowed(
            _("The agreement is now at the stage “%(stage)s”; this step cannot be taken.")
            % {"stage": agreement.get_stage_display()}
        )


def lock_agreement(agreement):
    """Re-read the agreement under a row lock, so two steps on it run one after the other.
    Its municipality and plan period come along (not locked: they do not change)."""
    return (
        Agreement.objects.select_related("municipality", "plan_period")
        .select_for_update(of=("self",))
        .get(pk=agreement.pk)
    )


# ---------------------------------------------------------------------------
# Opening and drafting
# ---------------------------------------------------------------------------


def next_case_number(*, year=None, prefix=None) -> str:
    """The next case number, e.g. "RD 2026/0042": sequential per year, never reused.

    The counter row is created if missing (ignoring a concurrent creation) and
    then locked, so two agreements opened at the same instant get two numbers."""
    prefix = prefix or settings.CASE_NUMBER_PREFIX
    year = year or timezone.localdate().year
    CaseNumberSequence.objects.bulk_create([CaseNumberSequence(prefix=prefix, year=year)], ignore_conflicts=True)
    sequence = CaseNumberSequence.objects.select_for_update().get(prefix=prefix, year=year)
    sequence.last_number += 1
    sequence.save(update_fields=["last_number"])
    return f"{prefix} {year}/{sequence.last_number:04d}"


@transaction.atomic
def agreement_create(
    *, actor, municipality: Organisation, plan_period: PlanPeriod, title: str, predecessor: Agreement | None = None
) -> Agreement:
    """Open a new agreement in drafting for a municipality and plan period."""
    require(actor, municipality, Action.DRAFT)
    errors = {}
    if not municipality.is_municipality or not municipality.is_active:
        errors["municipality"] = _("Choose one of the county's municipalities.")
    if not plan_period.is_active:
        errors["plan_period"] = _("The plan period %(period)s is closed for new agreements.") % {"period": plan_period}
    if not title.strip():
        errors["title"] = _("Give the agreement a title.")
    if not errors and Agreement.objects.live().filter(municipality=municipality, plan_period=plan_period).exists():
        errors["municipality"] = _("%(municipality)s already has an agreement for %(period)s.") % {
            "municipality": municipality,
            "period": plan_period,
        }
    if errors:
        raise ValidationError(errors)
    with audit_context(actor=actor, reason=reasons.AGREEMENT_OPENED):
        agreement = Agreement(
            municipality=municipality,
            plan_period=plan_period,
            title=title.strip(),
            created_by=actor,
            predecessor=predecessor,
            case_number=next_case_number(),
        )
        try:
            with transaction.atomic():
                agreement.save()
        except IntegrityError as exc:  # a concurrent opening for the same municipality won
            raise ValidationError(
                {
                    "municipality": _("%(municipality)s already has an agreement for %(period)s.")
                    % {"municipality": municipality, "period": plan_period}
                }
            ) from exc
        queue_event(Event.AGREEMENT_OPENED, agreement, {"title": agreement.title})
    return agreement


@dataclass
class AreaInput:
    """One collaboration area as written in the draft form."""

    title: str
    goal: str
    region_commitment: str
    municipality_commitment: str
    contacts: str = ""
    priorities: list = field(default_factory=list)
    id: int | None = None
    remove: bool = False


@transaction.atomic
def agreement_save_draft(*, actor, agreement: Agreement, title: str, areas: list[AreaInput]) -> Agreement:
    """Save the draft's title and collaboration areas (any number of times).
    A removed area is kept, marked removed."""
    require(actor, agreement.municipality, Action.DRAFT)
    agreement = lock_agreement(agreement)
    require_stage(agreement, Stage.DRAFTING)
    if not title.strip():
        raise ValidationError({"title": _("Give the agreement a title.")})
    existing = {area.pk: area for area in agreement.areas.filter(removed_at__isnull=True)}
    with audit_context(actor=actor, reason=reasons.DRAFT_SAVED):
        if agreement.title != title.strip():
            agreement.title = title.strip()
            agreement.save()
        for position, item in enumerate(areas, start=1):
            if item.id is not None and item.id not in existing:
                raise ValidationError(_("A collaboration area of the form does not belong to this draft."))
            area = existing.get(item.id) if item.id else None
            if item.remove:
                if area is not None:
                    area.removed_at = timezone.now()
                    area.save()
                continue
            values = {
                "title": item.title.strip(),
                "goal": item.goal.strip(),
                "region_commitment": item.region_commitment.strip(),
                "municipality_commitment": item.municipality_commitment.strip(),
                "contacts": item.contacts.strip(),
                "position": position,
            }
            wrong = [p for p in item.priorities if p.plan_period_id != agreement.plan_period_id]
            if wrong:
                raise ValidationError(_("A linked plan priority belongs to another plan period."))
            if area is None:
                area = CollaborationArea(agreement=agreement, **values)
                area.full_clean(exclude=["agreement"])
                area.save()
                area.priorities.set(item.priorities)
                continue
            changed = any(getattr(area, key) != value for key, value in values.items())
            if changed:
                for key, value in values.items():
                    setattr(area, key, value)
                area.full_clean(exclude=["agreement"])
                area.save()
            if set(area.priorities.all()) != set(item.priorities):
                area.priorities.set(item.priorities)
                area.save()  # one history row that records the new links
    return agreement


@transaction.atomic
def agreement_submit_for_review(
    *, actor, agreement: Agreement, title: str | None = None, areas: list[AreaInput] | None = None
) -> AgreementRevision:
    """Freeze the draft (saved first, when its text is given) as this round's
    revision and send it to the municipality."""
    require(actor, agreement.municipality, Action.DRAFT)
    if title is not None:
        agreement_save_draft(actor=actor, agreement=agreement, title=title, areas=areas or [])
    agreement = lock_agreement(agreement)
    require_stage(agreement, Stage.DRAFTING)
    if not agreement.active_areas().exists():
        raise ValidationError(_("Add at least one collaboration area before sending the draft for review."))
    with audit_context(actor=actor, reason=reasons.draft_sent_for_review(round=agreement.review_round)):
        revision = AgreementRevision.objects.create(
            agreement=agreement,
            round=agreement.review_round,
            title=agreement.title,
            content=snapshot(agreement),
            created_by=actor,
        )
        agreement.stage = Stage.REVIEW
        agreement.save()
        _stage_changed(agreement, Stage.DRAFTING)
    return revision


# ---------------------------------------------------------------------------
# Municipal review
# ---------------------------------------------------------------------------


@transaction.atomic
def review_accept(*, actor, agreement: Agreement, comment: str = "") -> Agreement:
    """The municipality accepts the draft; it goes to political approval."""
    require(actor, agreement.municipality, Action.REVIEW)
    agreement = lock_agreement(agreement)
    require_stage(agreement, Stage.REVIEW)
    with audit_context(actor=actor, reason=reasons.DRAFT_ACCEPTED_IN_REVIEW):
        if comment.strip():
            ReviewComment.objects.create(
                agreement=agreement, round=agreement.review_round, author=actor, text=comment.strip(), resolved=True
            )
        agreement.stage = Stage.APPROVAL
        agreement.save()
        _stage_changed(agreement, Stage.REVIEW)
        document_freeze(actor=actor, agreement=agreement)
    return agreement


def current_revision(agreement) -> AgreementRevision:
    return AgreementRevision.objects.select_related("agreement__municipality", "agreement__plan_period").get(
        agreement=agreement, round=agreement.review_round
    )


def current_decision_material(agreement) -> AgreementDocument | None:
    """The frozen decision material of the agreement's current round, if any."""
    return (
        AgreementDocument.objects.filter(
            agreement=agreement, revision__round=agreement.review_round, kind=AgreementDocument.Kind.DECISION_MATERIAL
        )
        .select_related("revision")
        .first()
    )


@transaction.atomic
def document_freeze(*, actor, agreement: Agreement) -> AgreementDocument:
    """Freeze the current round's revision as the decision material: the PDF is
    rendered once and stored once (content-addressed storage), its SHA-256 kept
    on the record and so in the audit history. Called as the agreement enters
    political approval; a second call returns the document already frozen.

    Rendered here, inside the step's transaction, so the agreement never stands
    in approval without its document (README › Documents and signatures has the
    figures)."""
    require(actor, agreement.municipality, Action.VIEW)
    existing = current_decision_material(agreement)
    if existing is not None:
        return existing
    revision = current_revision(agreement)
    pdf, fingerprint = render_revision_pdf(revision)
    digest = hashlib.sha256(pdf).hexdigest()
    with audit_context(actor=actor, reason=reasons.decision_material_frozen(round=revision.round, sha256=digest)):
        document = AgreementDocument(
            agreement=agreement,
            revision=revision,
            kind=AgreementDocument.Kind.DECISION_MATERIAL,
            size=len(pdf),
            sha256=digest,
            fingerprint=fingerprint,
            created_by=actor,
        )
        document.file.save(document.filename, ContentFile(pdf), save=False)
        document.save()
    return document


@transaction.atomic
def review_request_changes(*, actor, agreement: Agreement, comments: list[tuple]) -> list[ReviewComment]:
    """The municipality asks for changes: comments per area (or on the whole),
    and the draft goes back to drafting for a new round."""
    require(actor, agreement.municipality, Action.REVIEW)
    agreement = lock_agreement(agreement)
    require_stage(agreement, Stage.REVIEW)
    comments = [(area, text.strip()) for area, text in comments if text and text.strip()]
    if not comments:
        raise ValidationError(_("Write at least one comment saying what should change."))
    area_ids = set(agreement.active_areas().values_list("pk", flat=True))
    if any(area is not None and area.pk not in area_ids for area, _text in comments):
        raise ValidationError(_("A comment concerns an area that is not part of this agreement."))
    with audit_context(
        actor=actor,
        reason=reasons.changes_requested_in_review(round=agreement.review_round),
    ):
        created = [
            ReviewComment.objects.create(
                agreement=agreement, round=agreement.review_round, area=area, author=actor, text=text
            )
            for area, text in comments
        ]
        agreement.stage = Stage.DRAFTING
        agreement.review_round += 1
        agreement.save()
        _stage_changed(agreement, Stage.REVIEW)
    return created


# ---------------------------------------------------------------------------
# Attachments
# ---------------------------------------------------------------------------


@transaction.atomic
def attachment_add(*, actor, agreement: Agreement, uploaded, kind=Attachment.Kind.OTHER) -> Attachment:
    """Store an uploaded file after checking its size and its real type."""
    if not can_attach(actor, agreement):
        raise PermissionDenied
    facts = validate_upload(uploaded)
    with audit_context(actor=actor, reason=reasons.ATTACHMENT_ADDED):
        return _attachment_store(actor=actor, agreement=agreement, uploaded=uploaded, kind=kind, facts=facts)


def _attachment_store(*, actor, agreement, uploaded, kind, facts) -> Attachment:
    """Store a checked file (``facts`` from cases.files.validate_upload) as the
    agreement's attachment, under the caller's audit reason."""
    attachment = Attachment(
        agreement=agreement,
        kind=kind,
        original_name=uploaded.name[:255],
        content_type=facts["content_type"],
        size=facts["size"],
        sha256=facts["sha256"],
        uploaded_by=actor,
    )
    attachment.file.save(uploaded.name, uploaded, save=False)
    attachment.save()
    return attachment


# ---------------------------------------------------------------------------
# Political approval
# ---------------------------------------------------------------------------

PARAGRAPH = re.compile(r"^§?\s*(\d{1,4})\s*([a-z])?\s*§?$", re.IGNORECASE)


def normalise_paragraph(value: str) -> str:
    """ "45", "§45", "§ 45", "45 §" -> "§ 45"; anything else raises ValidationError."""
    match = PARAGRAPH.match((value or "").strip())
    if not match:
        raise ValidationError({"paragraph": _("Write the paragraph of the minutes as e.g. “§ 45”.")}, code="paragraph")
    number, letter = match.groups()
    return f"§ {int(number)}{' ' + letter.lower() if letter else ''}"


def validate_decision_date(*, agreement, meeting_date):
    if meeting_date > timezone.localdate():
        raise ValidationError({"meeting_date": _("The meeting date cannot be in the future.")})
    period = agreement.plan_period
    if not period.contains(meeting_date):
        raise ValidationError(
            {
                "meeting_date": _("The meeting date must be within the plan period %(period)s (%(start)s – %(end)s).")
                % {"period": period, "start": period.starts_on, "end": period.ends_on}
            }
        )
    opened_on = timezone.localdate(agreement.created_at) if agreement.created_at else None
    if opened_on is not None and meeting_date < opened_on:
        raise ValidationError(
            {
                "meeting_date": _(
                    "The meeting date cannot be before the agreement was opened (%(date)s): a body cannot have "
                    "decided on it before it existed."
                )
                % {"date": opened_on.isoformat()}
            }
        )


PARTY_DECISION_ACTION = {Party.REGION: Action.DECIDE_REGION, Party.MUNICIPALITY: Action.DECIDE_MUNICIPALITY}


@transaction.atomic
def decision_record(
    *,
    actor,
    agreement: Agreement,
    party,
    body: str,
    meeting_date: datetime.date,
    paragraph: str,
    outcome,
    ends_agreement: bool = False,
    minutes: Attachment | None = None,
    minutes_file=None,
    document_sha256: str | None = None,
) -> Decision:
    """Record one party's political decision. Both approving sends the agreement to
    signing; a rejection or a return sends it back to drafting, or ends it."""
    party = Party(party)
    require(actor, agreement.municipality, PARTY_DECISION_ACTION[party])
    agreement = lock_agreement(agreement)
    require_stage(agreement, Stage.APPROVAL)
    if Decision.objects.filter(agreement=agreement, round=agreement.review_round, party=party).exists():
        raise StepNotAllowed(_("This party's decision has already been recorded."))
    errors = {}
    if not body.strip():
        errors["body"] = _("Name the body that decided, e.g. Kultur- och bildningsnämnden.")
    try:
        paragraph = normalise_paragraph(paragraph)
    except ValidationError as error:
        errors.update(error.message_dict)
    try:
        validate_decision_date(agreement=agreement, meeting_date=meeting_date)
    except ValidationError as error:
        errors.update(error.message_dict)
    outcome = Decision.Outcome(outcome)
    if ends_agreement and outcome != Decision.Outcome.REJECTED:
        errors["ends_agreement"] = _("Only a rejection can end the agreement.")
    if minutes is not None and minutes.agreement_id != agreement.pk:
        errors["minutes"] = _("The minutes must be attached to this agreement.")
    document = current_decision_material(agreement)
    if document_sha256 is not None and (document is None or document.sha256 != document_sha256.strip().lower()):
        errors["document"] = _(
            "The decision material shown is not this agreement's current one. Reload the page and check "
            "the document the body decided on."
        )
    if errors:
        raise ValidationError(errors)
    if document is None:  # entered approval before documents were frozen: freeze it now
        document = document_freeze(actor=actor, agreement=agreement)

    if minutes_file is not None:
        minutes = attachment_add(actor=actor, agreement=agreement, uploaded=minutes_file, kind=Attachment.Kind.MINUTES)
    with audit_context(actor=actor, reason=reasons.decision_recorded(party=party, outcome=outcome)):
        decision = Decision.objects.create(
            agreement=agreement,
            round=agreement.review_round,
            party=party,
            body=body.strip(),
            meeting_date=meeting_date,
            paragraph=paragraph,
            outcome=outcome,
            ends_agreement=ends_agreement,
            minutes=minutes,
            document=document,
            recorded_by=actor,
        )
        if outcome == Decision.Outcome.REJECTED and ends_agreement:
            agreement.stage = Stage.REJECTED
            agreement.ended_at = timezone.now()
            agreement.end_reason = _("Rejected by %(body)s %(paragraph)s") % {
                "body": decision.body,
                "paragraph": paragraph,
            }
        elif outcome != Decision.Outcome.APPROVED:
            agreement.stage = Stage.DRAFTING
            agreement.review_round += 1
        else:
            approved = set(
                Decision.objects.filter(
                    agreement=agreement, round=agreement.review_round, outcome=Decision.Outcome.APPROVED
                ).values_list("party", flat=True)
            )
            if approved == {Party.REGION, Party.MUNICIPALITY}:
                agreement.stage = Stage.SIGNING
        if agreement.stage != Stage.APPROVAL:
            agreement.save()  # the first approval changes nothing on the agreement: its history is the decision's
        queue_event(
            Event.DECISION_RECORDED,
            agreement,
            {"decision": decision.pk, "party": decision.party, "outcome": decision.outcome},
        )
        _stage_changed(agreement, Stage.APPROVAL)
    return decision


# ---------------------------------------------------------------------------
# Signing and withdrawal
# ---------------------------------------------------------------------------

PARTY_SIGN_ACTION = {Party.REGION: Action.SIGN_REGION, Party.MUNICIPALITY: Action.SIGN_MUNICIPALITY}


@transaction.atomic
def signature_record(
    *,
    actor,
    agreement: Agreement,
    party,
    auth_method=SignatureMethod.PASSWORD,
    document_sha256: str | None = None,
    signatory=None,
    signed_copy: Attachment | None = None,
    signed_copy_file=None,
    signed_at: datetime.datetime | None = None,
) -> Signature:
    """Record one party's signature; with both, the agreement is in force.

    Only the signatory signs, for themselves (accounts.permissions.signing_membership):
    ``actor`` is the signatory, and the name, title, organisation and role come
    from their account and membership, the time from the server's clock. The
    view proves who they are first (a fresh re-authentication) and passes how
    (``auth_method``: password or TOTP). With ``auth_method=PAPER`` a coordinator
    records ``signatory``'s paper signature instead; the scan is required.

    ``document_sha256``: the frozen decision material the signatory was shown;
    another one (a stale page) is refused. None (service callers: demo data,
    the load generator) signs the current one. ``signed_at`` is for seeding
    historical demo data only; no view passes it."""
    party = Party(party)
    auth_method = SignatureMethod(auth_method)
    sign_action = PARTY_SIGN_ACTION[party]
    if auth_method == SignatureMethod.PAPER:
        if not can_record_paper_signature(actor, agreement.municipality):
            raise PermissionDenied(_("Only a coordinator may record a paper signature."))
    else:
        signatory = actor
    membership = signing_membership(signatory, agreement.municipality, sign_action) if signatory else None
    if auth_method != SignatureMethod.PAPER and membership is None:
        raise PermissionDenied(_("Only the signatory may sign, for themselves."))
    agreement = lock_agreement(agreement)
    require_stage(agreement, Stage.SIGNING)
    if agreement.signatures.filter(party=party).exists():
        raise StepNotAllowed(_("This party has already signed."))
    errors = {}
    if membership is None:
        errors["signatory"] = _("Choose a person who signs for this party.")
    if auth_method == SignatureMethod.PAPER and signed_copy is None and signed_copy_file is None:
        errors["signed_copy"] = _("Attach the scan of the signed paper.")
    signed_at = signed_at or timezone.now()
    signed_on = timezone.localdate(signed_at)
    if signed_on > timezone.localdate():
        errors["signed_on"] = _("The signing date cannot be in the future.")
    decided = agreement.decisions.filter(round=agreement.review_round).order_by("-meeting_date").first()
    if decided is not None and signed_on < decided.meeting_date:
        errors["signed_on"] = _(
            "The signing date cannot be before both parties had decided: the last decision was on %(date)s."
        ) % {"date": decided.meeting_date.isoformat()}
    document = current_decision_material(agreement)
    if document_sha256 is not None and (document.sha256 if document else "") != document_sha256.strip().lower():
        errors["document"] = _(
            "The document shown is not this agreement's current decision material. Reload the page and "
            "check the document before signing."
        )
    if errors:
        raise ValidationError(errors)
    if signed_copy_file is not None:
        signed_copy = attachment_add(
            actor=actor, agreement=agreement, uploaded=signed_copy_file, kind=Attachment.Kind.SIGNED_COPY
        )
    reason = (
        reasons.paper_signature_recorded(party=party)
        if auth_method == SignatureMethod.PAPER
        else reasons.signature_recorded(party=party)
    )
    with audit_context(actor=actor, reason=reason):
        signature = Signature.objects.create(
            agreement=agreement,
            party=party,
            signatory=signatory,
            signatory_name=signatory.full_name or signatory.email,
            signatory_title=signatory.title or membership.get_role_display(),
            organisation=membership.organisation,
            role=membership.role,
            signed_at=signed_at,
            signed_on=signed_on,
            client_address=current_audit_context().ip,
            auth_method=auth_method,
            document_sha256=document.sha256 if document else "",
            signed_copy=signed_copy,
            recorded_by=actor,
        )
        signatures = list(agreement.signatures.all())
        both_signed = {s.party for s in signatures} == {Party.REGION, Party.MUNICIPALITY}
        if both_signed:
            agreement.stage = Stage.IN_FORCE
            agreement.in_force_since = max(s.signed_on for s in signatures)
            agreement.save()  # the first signature changes nothing on the agreement: its history is the signature's
        queue_event(Event.SIGNATURE_RECORDED, agreement, {"signature": signature.pk, "party": signature.party})
        _stage_changed(agreement, Stage.SIGNING)
    if both_signed:
        signed_agreement_queue(actor=actor, agreement=agreement)
    return signature


# ---------------------------------------------------------------------------
# The signed agreement (issue #12 item 4): produced by the background worker
# ---------------------------------------------------------------------------


def current_signed_agreement(agreement) -> AgreementDocument | None:
    """The sealed final PDF of the agreement, once the worker has produced it."""
    return (
        AgreementDocument.objects.filter(agreement=agreement, kind=AgreementDocument.Kind.SIGNED_AGREEMENT)
        .select_related("revision")
        .order_by("-revision__round")
        .first()
    )


@transaction.atomic
def signed_agreement_queue(*, actor, agreement: Agreement) -> DocumentProduction:
    """Queue the production of the signed agreement, in the caller's transaction
    (the last signature's): a job row, whose state the agreement's page shows,
    and the worker's task. Queuing again (a failed job, once the certificate is
    fixed) resets a failed job; a finished one stays finished."""
    from .tasks import produce_signed_agreement

    kind = AgreementDocument.Kind.SIGNED_AGREEMENT
    production = DocumentProduction.objects.select_for_update().filter(agreement=agreement, kind=kind).first()
    if production is not None and production.state == DocumentProduction.State.DONE:
        return production
    with audit_context(actor=actor, reason=reasons.SIGNED_AGREEMENT_QUEUED):
        if production is None:
            production = DocumentProduction.objects.create(agreement=agreement, kind=kind)
        elif production.state == DocumentProduction.State.FAILED:
            production.state = DocumentProduction.State.QUEUED
            production.save()
    produce_signed_agreement.enqueue(agreement.pk)
    return production


def _signed_agreement_pdf(agreement) -> tuple[bytes, AgreementDocument]:
    """The decided document + its verifikat, PAdES-signed. Reads only; raises
    pades.SigningUnavailable when the certificate cannot sign."""
    from . import pades
    from .documents import merge_pdfs, render_verifikat_pdf

    credentials = pades.load_credentials()  # first: no rendering for a job that cannot finish
    decided = current_decision_material(agreement)
    if decided is None:
        raise StepNotAllowed(_("The agreement has no frozen decision material to seal."))
    signatures = list(agreement.signatures.select_related("organisation").order_by("signed_at", "recorded_at", "pk"))
    decisions = list(agreement.decisions.filter(round=agreement.review_round).order_by("meeting_date", "pk"))
    with decided.file.open("rb") as handle:
        decided_pdf = handle.read()
    verifikat = render_verifikat_pdf(agreement=agreement, document=decided, signatures=signatures, decisions=decisions)
    merged = merge_pdfs(decided_pdf, verifikat)
    with translation.override("sv"):
        reason = _("Signed agreement %(case)s, issued by Samverkan") % {"case": agreement.case_number}
    return pades.sign_pdf(merged, reason=reason, location="Sverige", credentials=credentials), decided


def signed_agreement_produce(*, agreement_id: int) -> DocumentProduction:
    """The worker's part: render the verifikat, merge it after the decided
    document, seal the file with the region's certificate and store it once (a
    new AgreementDocument, its SHA-256 in the audit history). A certificate
    that cannot sign, or any other failure, is recorded on the job (state
    "failed" and its message, shown on the agreement's page) instead of raised;
    the job can be queued again (manage.py produce_signed_agreements)."""
    import logging

    from . import pades

    kind = AgreementDocument.Kind.SIGNED_AGREEMENT
    production = DocumentProduction.objects.select_related("agreement").get(agreement_id=agreement_id, kind=kind)
    if production.state == DocumentProduction.State.DONE:
        return production
    agreement = production.agreement
    try:
        pdf, decided = _signed_agreement_pdf(agreement)
    except (pades.SigningUnavailable, StepNotAllowed) as error:
        message = str(error)
    except Exception as error:  # noqa: BLE001 – recorded on the job for the coordinators, and logged in full
        logging.getLogger(__name__).exception("The signed agreement of %s could not be produced", agreement)
        message = _("An unexpected error (%(error)s); see the worker's log.") % {"error": type(error).__name__}
    else:
        return _signed_agreement_store(production_pk=production.pk, pdf=pdf, decided=decided)
    with transaction.atomic(), audit_context(reason=reasons.signed_agreement_failed(error=message)):
        production = DocumentProduction.objects.select_for_update().get(pk=production.pk)
        if production.state != DocumentProduction.State.DONE:
            production.state = DocumentProduction.State.FAILED
            production.error = message
            production.attempts += 1
            production.finished_at = timezone.now()
            production.save()
    return production


@transaction.atomic
def _signed_agreement_store(*, production_pk, pdf: bytes, decided: AgreementDocument) -> DocumentProduction:
    production = DocumentProduction.objects.select_for_update().select_related("agreement").get(pk=production_pk)
    if production.state == DocumentProduction.State.DONE:  # another worker finished first
        return production
    digest = hashlib.sha256(pdf).hexdigest()
    with audit_context(reason=reasons.signed_agreement_produced(round=decided.revision.round, sha256=digest)):
        document = AgreementDocument(
            agreement=production.agreement,
            revision=decided.revision,
            kind=AgreementDocument.Kind.SIGNED_AGREEMENT,
            size=len(pdf),
            sha256=digest,
            fingerprint=decided.fingerprint,
        )
        document.file.save(document.filename, ContentFile(pdf), save=False)
        document.save()
        production.state = DocumentProduction.State.DONE
        production.document = document
        production.error = ""
        production.attempts += 1
        production.finished_at = timezone.now()
        production.save()
    return production


@transaction.atomic
def agreement_withdraw(*, actor, agreement: Agreement, reason: str) -> Agreement:
    """Withdraw an agreement at any stage before it ends; the reason is kept."""
    require(actor, agreement.municipality, Action.WITHDRAW)
    agreement = lock_agreement(agreement)
    if agreement.is_final:
        raise StepNotAllowed(
            _("The agreement has already ended (%(stage)s).") % {"stage": agreement.get_stage_display()}
        )
    if not reason.strip():
        raise ValidationError({"reason": _("Say why the agreement is withdrawn.")})
    with audit_context(actor=actor, reason=reasons.agreement_withdrawn(reason=reason.strip())):
        before = agreement.stage
        agreement.stage = Stage.WITHDRAWN
        agreement.ended_at = timezone.now()
        agreement.end_reason = reason.strip()
        agreement.save()
        queue_event(Event.AGREEMENT_WITHDRAWN, agreement, {"reason": agreement.end_reason})
        _stage_changed(agreement, before)
    return agreement


# ---------------------------------------------------------------------------
# Closing at the end of the plan period
# ---------------------------------------------------------------------------


@transaction.atomic
def agreement_close(*, agreement: Agreement) -> Agreement:
    """Close an agreement in force at its plan period's end (run by the process)."""
    agreement = lock_agreement(agreement)
    require_stage(agreement, Stage.IN_FORCE)
    if timezone.localdate() <= agreement.plan_period.ends_on:
        raise StepNotAllowed(_("The plan period has not ended yet."))
    with audit_context(reason=reasons.AGREEMENT_CLOSED):
        agreement.stage = Stage.CLOSED
        agreement.ended_at = timezone.now()
        agreement.end_reason = _("The plan period %(period)s has ended.") % {"period": agreement.plan_period}
        agreement.save()
        _stage_changed(agreement, Stage.IN_FORCE)
    return agreement


# ---------------------------------------------------------------------------
# Renewal into the next plan period
# ---------------------------------------------------------------------------

RENEWABLE_STAGES = (Stage.IN_FORCE, Stage.CLOSED)


def matching_priority(priority, plan_period):
    """The new period's priority that carries an old one on: its successor (followed
    through the periods in between), else one with the same code, else the same
    title. Retired priorities are not offered. None when there is none: the
    renewed area is then flagged "choose a priority" (see CollaborationArea)."""
    seen = set()
    successor = priority.successor
    while successor is not None and successor.pk not in seen:
        seen.add(successor.pk)
        if successor.plan_period_id == plan_period.pk:
            return None if successor.is_retired else successor
        successor = successor.successor
    candidates = [p for p in plan_period.priorities.all() if not p.is_retired]
    return next((p for p in candidates if p.code == priority.code), None) or next(
        (p for p in candidates if p.title.strip().lower() == priority.title.strip().lower()), None
    )


def check_renewal(*, agreement: Agreement, plan_period: PlanPeriod):
    """Raise ValidationError when ``agreement`` cannot be renewed into ``plan_period``."""
    if agreement.stage not in RENEWABLE_STAGES:
        raise ValidationError(_("Only an agreement in force or closed can be renewed."))
    if plan_period.starts_on <= agreement.plan_period.starts_on:
        raise ValidationError(
            {"plan_period": _("Choose a plan period after %(period)s.") % {"period": agreement.plan_period}}
        )
    if Agreement.objects.live().filter(municipality=agreement.municipality, plan_period=plan_period).exists():
        raise ValidationError(
            {
                "plan_period": _("%(municipality)s already has an agreement for %(period)s.")
                % {"municipality": agreement.municipality, "period": plan_period}
            }
        )


@transaction.atomic
def agreement_copy_areas(*, actor, source: Agreement, target: Agreement) -> list[CollaborationArea]:
    """Copy ``source``'s collaboration areas into ``target``'s draft, linked to
    the originals and to ``target``'s period's matching priorities."""
    require(actor, target.municipality, Action.DRAFT)
    require_stage(target, Stage.DRAFTING)
    copies = []
    with audit_context(actor=actor, reason=reasons.areas_copied_from(case_number=source.case_number)):
        for area in source.active_areas().prefetch_related("priorities"):
            copy = CollaborationArea.objects.create(
                agreement=target,
                position=area.position,
                title=area.title,
                goal=area.goal,
                region_commitment=area.region_commitment,
                municipality_commitment=area.municipality_commitment,
                contacts=area.contacts,
                copied_from=area,
            )
            matches = [m for m in (matching_priority(p, target.plan_period) for p in area.priorities.all()) if m]
            if matches:
                copy.priorities.set(matches)
                copy.save()
            copies.append(copy)
    return copies


# ---------------------------------------------------------------------------
# Import of earlier agreements (cases.agreements.imports reads and checks the file)
# ---------------------------------------------------------------------------


def _advance_case_number_sequence(case_number):
    """Keep the case number counter past an imported number of the same form
    ("RD 2026/0042"), so that a number opened later never collides with it."""
    match = re.match(r"^(?P<prefix>.+) (?P<year>\d{4})/(?P<number>\d+)$", case_number)
    if not match:
        return
    prefix, year, number = match["prefix"], int(match["year"]), int(match["number"])
    CaseNumberSequence.objects.bulk_create([CaseNumberSequence(prefix=prefix, year=year)], ignore_conflicts=True)
    sequence = CaseNumberSequence.objects.select_for_update().get(prefix=prefix, year=year)
    if sequence.last_number < number:
        sequence.last_number = number
        sequence.save(update_fields=["last_number"])


@transaction.atomic
def agreements_import(*, actor, file_name: str, rows: list[dict], scans=None) -> list[Agreement]:
    """Create the earlier agreements of a checked spreadsheet, closed (their
    period has ended) or in force, with their areas, both parties' approving
    decisions and both signatures; every history row says "Imported from
    <file>". A row's scanned PDF (``scans``: cases.agreements.imports.read_scans)
    is stored as an attachment, the signatures' signed copy. All or nothing:
    any error in any row raises ValidationError (a list of "row n: ...") and
    nothing is written. (The process is started by workflows.services.agreements_import.)"""
    from accounts.permissions import can_manage_plan

    from .imports import MAX_IMPORT_ROWS, check_rows

    if not can_manage_plan(actor):
        raise PermissionDenied(_("Only the region's coordinators import agreements."))
    if len(rows) > MAX_IMPORT_ROWS:
        raise ValidationError(_("Import at most %(max)s agreements at a time.") % {"max": MAX_IMPORT_ROWS})
    # Serialise imports: two running at once would each see the other's case numbers as free.
    if connection.vendor == "postgresql":  # (the demo also runs on SQLite, one writer at a time)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('samverkan:agreements_import'))")
    plans = check_rows(rows, scans=scans)
    problems = [
        _("Row %(row)s: %(error)s") % {"row": plan.number, "error": error} for plan in plans for error in plan.errors
    ]
    if problems:
        raise ValidationError(problems)
    if not plans:
        raise ValidationError(_("The file holds no agreements."))
    created = []
    with audit_context(actor=actor, reason=reasons.imported_from(file_name=file_name)):
        for plan in plans:
            _advance_case_number_sequence(plan.case_number)
            signed = [s["signed_on"] for s in plan.signatures.values()]
            agreement = Agreement.objects.create(
                municipality=plan.municipality,
                plan_period=plan.plan_period,
                case_number=plan.case_number,
                title=plan.title,
                stage=plan.stage,
                created_by=actor,
                in_force_since=max(signed),
                ended_at=timezone.now() if plan.stage == Stage.CLOSED else None,
                end_reason=(
                    _("The plan period %(period)s has ended.") % {"period": plan.plan_period}
                    if plan.stage == Stage.CLOSED
                    else ""
                ),
            )
            for position, area in enumerate(plan.areas, start=1):
                row = CollaborationArea.objects.create(
                    agreement=agreement,
                    position=position,
                    title=area.title,
                    goal="",
                    region_commitment="",
                    municipality_commitment="",
                )
                if area.priorities:
                    row.priorities.set(area.priorities)
                    row.save()  # one history row that records the links
            AgreementRevision.objects.create(
                agreement=agreement, round=1, title=agreement.title, content=snapshot(agreement), created_by=actor
            )
            for party, decision in plan.decisions.items():
                Decision.objects.create(
                    agreement=agreement,
                    round=1,
                    party=party,
                    outcome=Decision.Outcome.APPROVED,
                    recorded_by=actor,
                    **decision,
                )
            signed_copy = None
            if plan.scan is not None:  # the scanned, signed agreement: both signatures' signed copy
                scan = ContentFile(plan.scan.data, name=plan.scan.name)
                signed_copy = _attachment_store(
                    actor=actor,
                    agreement=agreement,
                    uploaded=scan,
                    kind=Attachment.Kind.SIGNED_COPY,
                    facts=validate_upload(scan),
                )
            for party, signature in plan.signatures.items():
                Signature.objects.create(
                    agreement=agreement, party=party, recorded_by=actor, signed_copy=signed_copy, **signature
                )
            created.append(agreement)
    return created
