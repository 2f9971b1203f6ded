"""The agreements: plan periods and their priorities, the agreement itself,
its collaboration areas, revisions, attachments, review comments, political
decisions and signatures."""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.audited_models import AuditedModel, AuditedQuerySet
from accounts.history import audited_history


class PlanPeriod(AuditedModel):
    """A period of the regional culture and education plan, e.g. 2023–2026."""

    name = models.CharField(_("name"), max_length=50, unique=True)
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"))
    is_active = models.BooleanField(
        _("open for new agreements"), default=False, help_text=_("Closed periods keep their agreements, read-only.")
    )

    history = audited_history()

    class Meta:
        verbose_name = _("plan period")
        verbose_name_plural = _("plan periods")
        ordering = ["-starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gt=models.F("starts_on")), name="period_ends_after_start"
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        super().clean()
        if self.starts_on and self.ends_on and self.ends_on <= self.starts_on:
            raise ValidationError({"ends_on": _("The period must end after it starts.")})

    def contains(self, day):
        return self.starts_on <= day <= self.ends_on


class PlanPriority(AuditedModel):
    """A priority (development area) of a plan period that collaboration areas link to."""

    plan_period = models.ForeignKey(
        PlanPeriod, on_delete=models.PROTECT, related_name="priorities", verbose_name=_("plan period")
    )
    code = models.SlugField(_("code"), max_length=50)
    title = models.CharField(_("title"), max_length=300)
    description = models.TextField(_("description"), blank=True)
    position = models.PositiveIntegerField(_("order"), default=0)
    retired_at = models.DateTimeField(
        _("retired"), null=True, blank=True, help_text=_("A retired priority is kept but no longer offered.")
    )
    successor = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="predecessors",
        verbose_name=_("successor"),
        help_text=_("The priority of a later plan period that continues this one: renewed areas move to it."),
    )

    history = audited_history()

    class Meta:
        verbose_name = _("plan priority")
        verbose_name_plural = _("plan priorities")
        ordering = ["plan_period", "position", "code"]
        constraints = [models.UniqueConstraint(fields=["plan_period", "code"], name="unique_priority_code_per_period")]

    def __str__(self):
        return self.title

    @property
    def is_retired(self):
        return self.retired_at is not None


class Stage(models.TextChoices):
    """Where an agreement stands in its lifecycle."""

    DRAFTING = "drafting", _("Drafting")
    REVIEW = "review", _("Municipal review")
    APPROVAL = "approval", _("Political approval")
    SIGNING = "signing", _("Signing")
    IN_FORCE = "in_force", _("In force")
    CLOSED = "closed", _("Closed")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")


# Stages after which nothing more happens to an agreement.
FINAL_STAGES = frozenset({Stage.CLOSED, Stage.REJECTED, Stage.WITHDRAWN})
# An agreement in one of these blocks another for the same municipality and period.
LIVE_STAGES = frozenset(set(Stage) - {Stage.REJECTED, Stage.WITHDRAWN})


class Party(models.TextChoices):
    REGION = "region", _("Region")
    MUNICIPALITY = "municipality", _("Municipality")


class AgreementQuerySet(AuditedQuerySet):
    def for_user(self, user):
        """Every list, search, export and count of agreements goes through here."""
        from accounts.permissions import scope_by_municipality

        return scope_by_municipality(self, user)

    def live(self):
        return self.filter(stage__in=LIVE_STAGES)


class Agreement(AuditedModel):
    """One agreement (överenskommelse): one municipality, one plan period."""

    municipality = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.PROTECT,
        related_name="agreements",
        limit_choices_to={"kind": "municipality"},
        verbose_name=_("municipality"),
    )
    plan_period = models.ForeignKey(
        PlanPeriod, on_delete=models.PROTECT, related_name="agreements", verbose_name=_("plan period")
    )
    case_number = models.CharField(_("case number"), max_length=30, unique=True, editable=False)
    title = models.CharField(_("title"), max_length=300)
    stage = models.CharField(_("stage"), max_length=20, choices=Stage.choices, default=Stage.DRAFTING)
    review_round = models.PositiveIntegerField(
        _("review round"), default=1, help_text=_("Raised each time the draft returns from review.")
    )
    predecessor = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="successors",
        verbose_name=_("previous agreement"),
    )
    created_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    in_force_since = models.DateField(_("in force since"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    end_reason = models.TextField(_("reason for ending"), blank=True)

    objects = AgreementQuerySet.as_manager()
    history = audited_history()

    class Meta:
        verbose_name = _("agreement")
        verbose_name_plural = _("agreements")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["municipality", "plan_period"],
                condition=models.Q(stage__in=sorted(LIVE_STAGES)),
                name="one_live_agreement_per_municipality_and_period",
                violation_error_message=_("This municipality already has an agreement for this plan period."),
            ),
        ]
        indexes = [
            models.Index(fields=["stage", "plan_period"]),
            # A municipality's latest agreement in a period (the county overview's
            # row when it has no live one): the first entry, not a sort of them all.
            models.Index(
                fields=["municipality", "plan_period", "-created_at", "-id"], name="agreement_latest_per_period"
            ),
        ]

    def __str__(self):
        return f"{self.case_number} {self.title}"

    @property
    def is_final(self):
        return self.stage in FINAL_STAGES

    def active_areas(self):
        return self.areas.filter(removed_at__isnull=True)


class CaseNumberSequence(models.Model):
    """The last case number used per prefix and year. A counter, not a record:
    the case numbers themselves are on the agreements and their history."""

    prefix = models.CharField(max_length=10)
    year = models.PositiveIntegerField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["prefix", "year"], name="one_sequence_per_prefix_and_year")]

    def __str__(self):
        return f"{self.prefix} {self.year}: {self.last_number}"


class CollaborationArea(AuditedModel):
    """A collaboration area (samverkansområde) of an agreement."""

    agreement = models.ForeignKey(
        Agreement, on_delete=models.PROTECT, related_name="areas", verbose_name=_("agreement")
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    title = models.CharField(_("title"), max_length=300)
    goal = models.TextField(_("goal"))
    region_commitment = models.TextField(_("what the region commits to"))
    municipality_commitment = models.TextField(_("what the municipality commits to"))
    contacts = models.TextField(_("contact persons"), blank=True, help_text=_("Name, role and e-mail, one per line."))
    priorities = models.ManyToManyField(
        PlanPriority, blank=True, related_name="areas", verbose_name=_("plan priorities")
    )
    copied_from = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="copies", verbose_name=_("copied from")
    )
    removed_at = models.DateTimeField(_("removed"), null=True, blank=True)

    history = audited_history(m2m_fields=[priorities])

    class Meta:
        verbose_name = _("collaboration area")
        verbose_name_plural = _("collaboration areas")
        ordering = ["agreement", "position", "pk"]

    def __str__(self):
        return self.title


class AgreementRevision(AuditedModel):
    """A frozen copy of the agreement's text, taken each time a draft goes to review."""

    agreement = models.ForeignKey(
        Agreement, on_delete=models.PROTECT, related_name="revisions", verbose_name=_("agreement")
    )
    round = models.PositiveIntegerField(_("round"))
    title = models.CharField(_("title"), max_length=300)
    content = models.JSONField(_("content"), help_text=_("The collaboration areas as they were sent for review."))
    created_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    history = audited_history()

    class Meta:
        verbose_name = _("revision")
        verbose_name_plural = _("revisions")
        ordering = ["agreement", "round"]
        constraints = [models.UniqueConstraint(fields=["agreement", "round"], name="one_revision_per_round")]

    def __str__(self):
        return f"{self.agreement.case_number} – {self.round}"


class AgreementDocument(AuditedModel):
    """A PDF of the agreement, stored once and never rewritten: the decision
    material (beslutsunderlag) frozen when a revision goes to political approval.
    Its SHA-256 is the file's; ``fingerprint`` is the hash of the text printed
    on its pages (cases.agreements.documents)."""

    class Kind(models.TextChoices):
        DECISION_MATERIAL = "decision_material", _("Decision material")
        SIGNED_AGREEMENT = "signed_agreement", _("Signed agreement")

    agreement = models.ForeignKey(
        Agreement, on_delete=models.PROTECT, related_name="documents", verbose_name=_("agreement")
    )
    revision = models.ForeignKey(
        AgreementRevision, on_delete=models.PROTECT, related_name="documents", verbose_name=_("revision")
    )
    kind = models.CharField(_("kind"), max_length=30, choices=Kind.choices)
    file = models.FileField(_("file"), upload_to="documents/%Y/%m/")
    size = models.PositiveBigIntegerField(_("size in bytes"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    fingerprint = models.CharField(_("fingerprint of the text"), max_length=64)
    created_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("made by")
    )
    created_at = models.DateTimeField(_("made"), auto_now_add=True)

    history = audited_history()

    class Meta:
        verbose_name = _("agreement document")
        verbose_name_plural = _("agreement documents")
        ordering = ["agreement", "created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["revision", "kind"], name="one_document_per_revision_and_kind"),
        ]

    def __str__(self):
        return f"{self.agreement.case_number} – {self.get_kind_display()} {self.revision.round}"

    @property
    def filename(self):
        number = self.agreement.case_number.replace(" ", "-").replace("/", "-")
        if self.kind == self.Kind.SIGNED_AGREEMENT:
            return f"{number}-undertecknad-{self.revision.round}.pdf"
        return f"{number}-beslutsunderlag-{self.revision.round}.pdf"

    @property
    def short_fingerprint(self):
        from .documents import short_fingerprint

        return short_fingerprint(self.fingerprint)


class DocumentProduction(AuditedModel):
    """The background worker's job of producing a document after a step: the
    signed agreement once both parties have signed (queued in the last
    signature's transaction). Its state is on the agreement's page and in the
    admin; a failure (e.g. no usable certificate) is recorded here with its
    message, and the job can be run again (manage.py produce_signed_agreements)."""

    class State(models.TextChoices):
        QUEUED = "queued", _("queued")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    agreement = models.ForeignKey(
        Agreement, on_delete=models.PROTECT, related_name="productions", verbose_name=_("agreement")
    )
    kind = models.CharField(_("kind"), max_length=30, choices=AgreementDocument.Kind.choices)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.QUEUED)
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    document = models.ForeignKey(
        AgreementDocument,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("document"),
    )
    queued_at = models.DateTimeField(_("queued"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    history = audited_history()

    class Meta:
        verbose_name = _("document production")
        verbose_name_plural = _("document productions")
        ordering = ["agreement", "queued_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "kind"], name="one_production_per_agreement_and_kind")
        ]

    def __str__(self):
        return f"{self.agreement.case_number} – {self.get_kind_display()} ({self.get_state_display()})"


class Attachment(AuditedModel):
    """A file attached to an agreement: minutes, signed copies, other documents."""

    class Kind(models.TextChoices):
        MINUTES = "minutes", _("Minutes")
        SIGNED_COPY = "signed_copy", _("Signed copy")
        FOLLOW_UP = "follow_up", _("Follow-up material")
        OTHER = "other", _("Other document")

    agreement = models.ForeignKey(
        Agreement, on_delete=models.PROTECT, related_name="attachments", verbose_name=_("agreement")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    file = models.FileField(_("file"), upload_to="attachments/%Y/%m/")
    original_name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size in bytes"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(_("uploaded"), auto_now_add=True)
    follow_up = models.ForeignKey(
        "cases.FollowUp",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="attachments",
        verbose_name=_("follow-up"),
    )

    history = audited_history()

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["agreement", "uploaded_at"]

    def __str__(self):
        return self.original_name


class ReviewComment(AuditedModel):
    """A comment from the municipal review, on one area or on the whole agreement."""

    agreement = models.ForeignKey(
        Agreement, on_delete=models.PROTECT, related_name="comments", verbose_name=_("agreement")
    )
    round = models.PositiveIntegerField(_("round"))
    area = models.ForeignKey(
        CollaborationArea,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="comments",
        verbose_name=_("collaboration area"),
    )
    author = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+", verbose_name=_("author"))
    text = models.TextField(_("comment"))
    resolved = models.BooleanField(_("resolved"), default=False)
    created_at = models.DateTimeField(_("written"), auto_now_add=True)

    history = audited_history()

    class Meta:
        verbose_name = _("review comment")
        verbose_name_plural = _("review comments")
        # A round's comments are written together, at one time: then in the order written.
        ordering = ["agreement", "round", "created_at", "pk"]

    def __str__(self):
        return self.text[:60]


class Decision(AuditedModel):
    """A political decision on the agreement, by the region or the municipality."""

    class Outcome(models.TextChoices):
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        RETURNED = "returned", _("Returned for changes")

    agreement = models.ForeignKey(
        Agreement, on_delete=models.PROTECT, related_name="decisions", verbose_name=_("agreement")
    )
    round = models.PositiveIntegerField(_("round"))
    party = models.CharField(_("party"), max_length=20, choices=Party.choices)
    body = models.CharField(_("decision-making body"), max_length=200)
    meeting_date = models.DateField(_("meeting date"))
    paragraph = models.CharField(_("paragraph"), max_length=20)
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices)
    ends_agreement = models.BooleanField(
        _("the rejection ends the agreement"),
        default=False,
        help_text=_("Otherwise a rejection sends the agreement back to drafting."),
    )
    minutes = models.ForeignKey(
        Attachment, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("minutes")
    )
    document = models.ForeignKey(
        "AgreementDocument",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="decisions",
        verbose_name=_("document decided on"),
        help_text=_("The frozen decision material; empty only on decisions recorded before documents existed."),
    )
    recorded_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(_("recorded"), auto_now_add=True)

    history = audited_history()

    class Meta:
        verbose_name = _("decision")
        verbose_name_plural = _("decisions")
        ordering = ["agreement", "round", "recorded_at"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "round", "party"], name="one_decision_per_party_and_round"),
        ]

    def __str__(self):
        return f"{self.body} {self.paragraph}"


class SignatureMethod(models.TextChoices):
    """How a signatory proved who they were when signing."""

    PASSWORD = "password", _("password")
    TOTP = "totp", _("one-time code")
    PAPER = "paper", _("registered paper signature")


class Signature(AuditedModel):
    """One party's signature on the agreement."""

    agreement = models.ForeignKey(
        Agreement, on_delete=models.PROTECT, related_name="signatures", verbose_name=_("agreement")
    )
    party = models.CharField(_("party"), max_length=20, choices=Party.choices)
    signatory_name = models.CharField(_("signatory's name"), max_length=200)
    signatory_title = models.CharField(_("signatory's title"), max_length=200)
    signed_on = models.DateField(_("signed on"))
    signed_copy = models.ForeignKey(
        Attachment, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("signed copy")
    )
    recorded_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(_("recorded"), auto_now_add=True)
    # Who signed, as the system knows them (README › Documents and signatures):
    # the signed-in signatory (or, for a paper signature, the signatory a
    # coordinator named), the organisation and role they signed in, the
    # server's time, the client address, how they proved who they were, and
    # the SHA-256 of the frozen document they signed. Blank on signatures
    # recorded before these were kept, and on imported ones.
    signatory = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("signatory")
    )
    organisation = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("organisation"),
    )
    role = models.CharField(_("role"), max_length=30, blank=True)
    signed_at = models.DateTimeField(_("signed at"), null=True, blank=True)
    client_address = models.GenericIPAddressField(_("client address"), null=True, blank=True)
    auth_method = models.CharField(
        _("authentication method"), max_length=10, choices=SignatureMethod.choices, blank=True
    )
    document_sha256 = models.CharField(_("document SHA-256"), max_length=64, blank=True)

    history = audited_history()

    @property
    def on_paper(self):
        return self.auth_method == SignatureMethod.PAPER

    class Meta:
        verbose_name = _("signature")
        verbose_name_plural = _("signatures")
        ordering = ["agreement", "recorded_at"]
        constraints = [models.UniqueConstraint(fields=["agreement", "party"], name="one_signature_per_party")]

    def __str__(self):
        return f"{self.signatory_name} ({self.get_party_display()})"
