"""Integration tokens: how another system (the records system, a BI tool)
calls the API.

A token belongs to an organisation and a role and acts through an integration
account: a User of its own with one Membership (organisation, role). Every
check and every selector therefore scopes a token exactly as it scopes a
person with that role (accounts.permissions): a Falun token sees Falun, an
auditor token reads everything and writes nothing. Revoking a token ends the
account (deactivated, its grants removed).

The token itself is shown once, when it is created; only its SHA-256 is
stored (a token is 256 random bits: a slow hash adds nothing), with its first
characters in clear to find the row and to tell tokens apart in lists."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.audited_models import AuditedModel
from accounts.history import audited_history
from accounts.models import Role

# The roles a token may have: the administrator's role is for people only.
TOKEN_ROLES = (Role.COORDINATOR, Role.AUDITOR, Role.CULTURAL_HEAD, Role.OFFICIAL)


class IntegrationToken(AuditedModel):
    account = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="integration_token",
        verbose_name=_("integration account"),
    )
    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="+", verbose_name=_("organisation")
    )
    role = models.CharField(_("role"), max_length=30, choices=Role.choices)
    name = models.CharField(_("name"), max_length=200, help_text=_("Which system uses the token, e.g. “Diarium”."))
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    expires_at = models.DateTimeField(_("expires"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("revoked by"),
    )

    history = audited_history()

    class Meta:
        verbose_name = _("integration token")
        verbose_name_plural = _("integration tokens")
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_revoked(self):
        return self.revoked_at is not None

    def is_usable(self, now=None):
        return self.revoked_at is None and self.expires_at > (now or timezone.now())


class IntegrationTokenUse(models.Model):
    """When a token was last used: bookkeeping, not audited history (one row
    per token, updated at most once a minute; a history row per request would
    drown the audit trail)."""

    token = models.OneToOneField(IntegrationToken, on_delete=models.CASCADE, primary_key=True, related_name="use")
    last_used_at = models.DateTimeField(_("last used"))

    def __str__(self):
        return f"{self.token_id}: {self.last_used_at:%Y-%m-%d %H:%M}"
