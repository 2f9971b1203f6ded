"""The API's authentication of integration tokens and their rate limit.

``Authorization: Bearer svk_<prefix>_<secret>``. The request then acts as the
token's integration account (api.models), so every permission check and
selector scopes it as a person with the token's role. An unknown, expired or
revoked token gets 401 with a JSON error, never a fall-back to anonymous."""

import datetime
import hmac

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.throttling import SimpleRateThrottle

from .models import IntegrationToken, IntegrationTokenUse
from .services import hash_key, split_key

LAST_USED_GRANULARITY = datetime.timedelta(minutes=1)


class IntegrationTokenAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Give the token after “Bearer”, nothing else."))
        try:
            key = header[1].decode("ascii")
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed(_("The token is not valid.")) from exc
        prefix = split_key(key)
        token = (
            IntegrationToken.objects.select_related("account").filter(prefix=prefix).first()
            if prefix is not None
            else None
        )
        if token is None or not hmac.compare_digest(token.key_hash, hash_key(key)):
            raise exceptions.AuthenticationFailed(_("The token is not valid."))
        now = timezone.now()
        if token.revoked_at is not None or not token.account.is_active:
            raise exceptions.AuthenticationFailed(_("The token has been revoked."))
        if token.expires_at <= now:
            raise exceptions.AuthenticationFailed(_("The token has expired."))
        _note_use(token, now)
        request.integration_token = token
        return token.account, token

    def authenticate_header(self, request):
        return self.keyword


def _note_use(token, now):
    """Record when the token was used, at most once a minute (one upsert)."""
    IntegrationTokenUse.objects.filter(token=token, last_used_at__gte=now - LAST_USED_GRANULARITY).exists() or (
        IntegrationTokenUse.objects.update_or_create(token=token, defaults={"last_used_at": now})
    )


class TokenRateThrottle(SimpleRateThrottle):
    """Requests per token (settings.API_TOKEN_RATE, e.g. "600/min"); people
    with a session are not throttled here (the pages' limits apply)."""

    scope = "integration_token"

    def get_rate(self):
        return settings.API_TOKEN_RATE

    def get_cache_key(self, request, view):
        token = getattr(request, "integration_token", None)
        if token is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": token.pk}


class IntegrationTokenScheme(OpenApiAuthenticationExtension):
    target_class = IntegrationTokenAuthentication
    name = "integrationToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An integration token: Authorization: Bearer svk_…",
        }
