from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .audited_models import AppendOnlyModel, AuditedModel, AuditedQuerySet
from .history import audited_history


class UserManager(BaseUserManager.from_queryset(AuditedQuerySet)):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("A user needs an e-mail address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)

    def get_by_natural_key(self, email):
        return self.get(email__iexact=email)


class User(AuditedModel, AbstractBaseUser, PermissionsMixin):
    """A person who signs in. E-mail is the login; users are deactivated, never deleted."""

    email = models.EmailField(_("e-mail address"), unique=True)
    full_name = models.CharField(_("full name"), max_length=200)
    title = models.CharField(_("title"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(_("may use the administration"), default=False)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)
    password_sign_in_allowed = models.BooleanField(
        _("may sign in with a password"),
        default=False,
        help_text=_(
            "Only matters when the user's organisation signs in through its own identity provider: "
            "allows this user to sign in with a password as well."
        ),
    )

    objects = UserManager()
    history = audited_history(excluded_fields=["password", "last_login"])

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["full_name", "email"]

    def __str__(self):
        return self.full_name or self.email

    def clean(self):
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    def get_full_name(self):
        return self.full_name

    def get_short_name(self):
        return self.full_name.split(" ")[0] if self.full_name else self.email


class Organisation(AuditedModel):
    """Region Dalarna, one of its municipalities, or a partner in the dialogue (a
    county cultural institution or a folk high school: it takes part in dialogue
    meetings but never signs an agreement and holds no roles)."""

    class Kind(models.TextChoices):
        REGION = "region", _("Region")
        MUNICIPALITY = "municipality", _("Municipality")
        PARTNER = "partner", _("Partner in the dialogue")

    class PartnerType(models.TextChoices):
        COUNTY_CULTURAL_INSTITUTION = "county_cultural_institution", _("County cultural institution")
        FOLK_HIGH_SCHOOL = "folk_high_school", _("Folk high school")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=200)
    kommunkod = models.CharField(
        _("municipality code"),
        max_length=4,
        blank=True,
        help_text=_("The four-digit code of a municipality, e.g. 2080 for Falun."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    deciding_body = models.CharField(
        _("default deciding body"),
        max_length=200,
        blank=True,
        help_text=_("Offered when the organisation's decision is recorded, e.g. Kommunstyrelsen."),
    )
    partner_type = models.CharField(_("kind of partner"), max_length=40, choices=PartnerType.choices, blank=True)
    password_sign_in_allowed = models.BooleanField(
        _("password sign-in allowed"),
        default=False,
        help_text=_(
            "Only matters when the organisation signs in through its own identity provider: "
            "allows its users to sign in with a password as well."
        ),
    )

    history = audited_history()

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["kind", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["kommunkod"],
                condition=Q(kind="municipality"),
                name="unique_kommunkod_per_municipality",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["region", "partner"]) | Q(kommunkod__regex=r"^[0-9]{4}$"),
                name="municipality_has_kommunkod",
            ),
        ]
        # One permission per action of accounts.permissions (ACTION_PERMISSIONS): granted
        # by it on a municipality's row to that municipality's groups (never per
        # agreement), or model-wide to the groups of the region roles.
        permissions = [
            ("view_municipality_cases", "Can view the municipality's agreements"),
            ("review_agreement", "Can review the municipality's draft agreements"),
            ("record_municipal_decision", "Can record the municipality's decision"),
            ("sign_for_municipality", "Can sign for the municipality"),
            ("report_follow_up", "Can write the municipality's follow-ups"),
            # The region's actions: held model-wide by the region roles' groups.
            ("coordinate_agreements", "Can draft and drive agreements for every municipality"),
            ("record_region_decision", "Can record the region's decision"),
            ("sign_for_region", "Can sign for the region"),
            ("review_follow_up", "Can review follow-ups"),
            ("record_dialogue_meetings", "Can record dialogue meetings and their action points"),
            ("read_audit_log", "Can read and export the audit log"),
            ("administer_accounts", "Can manage users, organisations and memberships"),
        ]

    def __str__(self):
        return self.name

    @property
    def is_municipality(self):
        return self.kind == self.Kind.MUNICIPALITY

    @property
    def is_region(self):
        return self.kind == self.Kind.REGION

    def clean(self):
        super().clean()
        if self.kind == self.Kind.MUNICIPALITY and not (self.kommunkod.isdigit() and len(self.kommunkod) == 4):
            raise ValidationError({"kommunkod": _("A municipality needs a four-digit municipality code.")})
        if self.kind in (self.Kind.REGION, self.Kind.PARTNER) and self.kommunkod:
            raise ValidationError({"kommunkod": _("Only municipalities have a municipality code.")})
        if self.kind == self.Kind.PARTNER and not self.partner_type:
            raise ValidationError({"partner_type": _("Say what kind of partner it is.")})
        if self.kind != self.Kind.PARTNER and self.partner_type:
            raise ValidationError({"partner_type": _("Only partners in the dialogue have a kind of partner.")})

    @property
    def is_partner(self):
        return self.kind == self.Kind.PARTNER


class Role(models.TextChoices):
    COORDINATOR = "coordinator", _("Regional coordinator")
    CULTURAL_HEAD = "cultural_head", _("Municipal cultural head")
    OFFICIAL = "official", _("Municipal official")
    AUDITOR = "auditor", _("Auditor")
    ADMINISTRATOR = "administrator", _("Administrator")


# Which kind of organisation each role belongs to.
REGION_ROLES = frozenset({Role.COORDINATOR, Role.AUDITOR, Role.ADMINISTRATOR})
MUNICIPAL_ROLES = frozenset({Role.CULTURAL_HEAD, Role.OFFICIAL})


class MembershipQuerySet(AuditedQuerySet):
    def active(self):
        return self.filter(is_active=True, user__is_active=True, organisation__is_active=True)


class Membership(AuditedModel):
    """A user's role in an organisation. Ended memberships are kept, inactive.

    ``source`` says where it came from: granted by hand (an administrator), or
    from an identity provider's claims at sign-in (``source_provider`` names
    it). Sign-in brings only the provider's own memberships up to date; those
    granted by hand are never touched by it."""

    class Source(models.TextChoices):
        MANUAL = "manual", _("Granted by hand")
        PROVIDER = "provider", _("From the identity provider")

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="memberships", verbose_name=_("user"))
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="memberships", verbose_name=_("organisation")
    )
    role = models.CharField(_("role"), max_length=30, choices=Role.choices)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices, default=Source.MANUAL)
    source_provider = models.CharField(_("identity provider"), max_length=30, blank=True)

    objects = MembershipQuerySet.as_manager()
    history = audited_history()

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        ordering = ["organisation__name", "role"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organisation", "role"],
                condition=Q(is_active=True),
                name="one_active_membership_per_role",
            ),
        ]

    def __str__(self):
        return f"{self.user} – {self.get_role_display()}, {self.organisation}"

    def clean(self):
        super().clean()
        if self.organisation_id is None or not self.role:
            return
        if self.organisation.is_partner:
            raise ValidationError(
                {"organisation": _("Partners in the dialogue take part in meetings; they hold no roles in Samverkan.")}
            )
        if self.organisation.is_region and self.role not in REGION_ROLES:
            raise ValidationError(
                {
                    "role": _("The role “%(role)s” belongs to a municipality, not to the region.")
                    % {"role": Role(self.role).label}
                }
            )
        if self.organisation.is_municipality and self.role not in MUNICIPAL_ROLES:
            raise ValidationError(
                {
                    "role": _("The role “%(role)s” belongs to the region, not to a municipality.")
                    % {"role": Role(self.role).label}
                }
            )


class AbsenceQuerySet(AuditedQuerySet):
    def current(self, day=None):
        """The absences that last on ``day`` (today, local time), not ended early."""
        day = day or timezone.localdate()
        return self.filter(ended_early_at__isnull=True, starts_on__lte=day, ends_on__gte=day)

    def overlapping(self, starts_on, ends_on):
        """The absences, not ended early, that share a day with starts_on..ends_on."""
        return self.filter(ended_early_at__isnull=True, starts_on__lte=ends_on, ends_on__gte=starts_on)


class Absence(AuditedModel):
    """A person away (from, to, both days included) and their substitute
    (ersättare), who meanwhile holds their step roles in the same
    organisations (accounts.permissions.sync_user_groups) and takes their
    steps on their behalf. Ended early, never deleted."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="absences", verbose_name=_("absent person"))
    substitute = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="substitutions", verbose_name=_("substitute")
    )
    starts_on = models.DateField(_("from"))
    ends_on = models.DateField(_("to"))
    ended_early_at = models.DateTimeField(_("ended early"), null=True, blank=True)
    # Whether the substitute's groups include the absent person's roles now: the
    # job accounts.services.sync_absence_grants brings it up to date as days pass.
    grants_given = models.BooleanField(_("substitute holds the roles"), default=False, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = AbsenceQuerySet.as_manager()
    history = audited_history()

    class Meta:
        verbose_name = _("absence")
        verbose_name_plural = _("absences")
        ordering = ["-starts_on", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_on__gte=models.F("starts_on")), name="absence_ends_after_start"),
            models.CheckConstraint(condition=~Q(user=models.F("substitute")), name="absence_substitute_is_another"),
        ]

    def __str__(self):
        return f"{self.user} {self.starts_on}–{self.ends_on} ({self.substitute})"

    def lasts_on(self, day=None):
        day = day or timezone.localdate()
        return self.ended_early_at is None and self.starts_on <= day <= self.ends_on


class SignInEvent(AppendOnlyModel):
    """A sign-in, sign-out or failed sign-in. Append-only: the database refuses
    to change or delete rows and chains them by hash (``chain_hash``).
    The password tried is never stored."""

    class Kind(models.TextChoices):
        LOGIN = "login", _("Signed in")
        LOGOUT = "logout", _("Signed out")
        FAILED = "failed", _("Failed sign-in")
        ENDED = "ended", _("Session ended")

    kind = models.CharField(_("event"), max_length=10, choices=Kind.choices)
    user = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sign_in_events",
        verbose_name=_("user"),
    )
    email = models.CharField(_("e-mail address tried"), max_length=254, blank=True)
    ip = models.GenericIPAddressField(_("client address"), null=True, blank=True)
    user_agent = models.CharField(_("browser"), max_length=500, blank=True)
    at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    # Added later: columns of this chained table are only ever added, at the end.
    method = models.CharField(_("method"), max_length=40, blank=True)
    detail = models.CharField(_("detail"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("sign-in event")
        verbose_name_plural = _("sign-in events")
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.email or self.user_id} {self.at:%Y-%m-%d %H:%M}"


# ----------------------------------------------------------------------------
# Sign-in through an organisation's identity provider, sessions, enrolment
# ----------------------------------------------------------------------------


class ExternalIdentity(AuditedModel):
    """The link between a person at an identity provider (its subject) and a
    user here, made at their first sign-in through it."""

    provider = models.CharField(_("identity provider"), max_length=30)
    subject = models.CharField(_("subject at the provider"), max_length=255)
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="external_identities", verbose_name=_("user"))
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    history = audited_history()

    class Meta:
        verbose_name = _("external identity")
        verbose_name_plural = _("external identities")
        constraints = [
            models.UniqueConstraint(fields=["provider", "subject"], name="one_user_per_provider_subject"),
        ]

    def __str__(self):
        return f"{self.provider}: {self.subject} → {self.user}"


class MappingProblem(models.Model):
    """A claim of an identity provider that the configured mapping could not
    turn into a membership (unknown organisation, a role that does not fit
    it): recorded at the sign-in where it happened, shown to administrators."""

    at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    provider = models.CharField(_("identity provider"), max_length=30)
    user = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("user")
    )
    rule = models.CharField(_("mapping rule"), max_length=300)
    message = models.CharField(_("problem"), max_length=500)

    class Meta:
        verbose_name = _("mapping problem")
        verbose_name_plural = _("mapping problems")
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.provider}: {self.rule}"


class UserSession(models.Model):
    """A signed-in session of a user, so that they can see where they are
    signed in and end the others. Ending one deletes Django's session; this
    row is kept with when and by whom it was ended."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="sessions", verbose_name=_("user"))
    session_key = models.CharField(max_length=40, unique=True)
    method = models.CharField(_("method"), max_length=40, blank=True)
    ip = models.GenericIPAddressField(_("client address"), null=True, blank=True)
    user_agent = models.CharField(_("browser"), max_length=500, blank=True)
    started_at = models.DateTimeField(_("signed in"), default=timezone.now)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    end_reason = models.CharField(_("why it ended"), max_length=30, blank=True)

    class Meta:
        verbose_name = _("session")
        verbose_name_plural = _("sessions")
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["user", "ended_at"], name="usersession_user_open")]

    def __str__(self):
        return f"{self.user} {self.started_at:%Y-%m-%d %H:%M}"


class EnrolmentToken(models.Model):
    """Permission to set up an authenticator app, beyond the password: a link
    e-mailed to the account's address, or a code an administrator hands out.
    Only a hash of the secret is kept; each is used once and expires."""

    class Kind(models.TextChoices):
        LINK = "link", _("Link by e-mail")
        CODE = "code", _("Code from an administrator")
        INVITATION = "invitation", _("Invitation by e-mail")

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="enrolment_tokens", verbose_name=_("user"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    created_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("created by")
    )
    expires_at = models.DateTimeField(_("expires"))
    used_at = models.DateTimeField(_("used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        verbose_name = _("enrolment permission")
        verbose_name_plural = _("enrolment permissions")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.user} {self.get_kind_display()} {self.created_at:%Y-%m-%d %H:%M}"


class RecoveryCode(models.Model):
    """A one-time recovery code (for when the phone is lost): only its hash is
    kept; it is marked used, never reused."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="recovery_codes", verbose_name=_("user"))
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    used_at = models.DateTimeField(_("used"), null=True, blank=True)

    class Meta:
        verbose_name = _("recovery code")
        verbose_name_plural = _("recovery codes")

    def __str__(self):
        return f"{self.user} {self.created_at:%Y-%m-%d}"


class FailedPasswordAttempt(models.Model):
    """A failed sign-in as the password-spraying limit counts it
    (accounts/spraying.py): which client address tried which password against
    which e-mail address, and when. The password is kept only as a keyed
    fingerprint of address and password, never in clear, and rows are deleted
    once they are older than the lock-out pause: a counter, not a record
    (failed sign-ins are recorded in SignInEvent)."""

    ip = models.GenericIPAddressField()
    fingerprint = models.CharField(max_length=64)
    username = models.CharField(max_length=254)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["ip", "fingerprint", "at"], name="accounts_spray_lookup")]

    def __str__(self):
        return f"{self.ip} {self.username} {self.at:%Y-%m-%d %H:%M}"
