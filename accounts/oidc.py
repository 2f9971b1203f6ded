"""The OpenID Connect client: the authorization code flow with one of the
organisations' own identity providers (accounts.providers).

Built on mozilla-django-oidc (why: README › Sign-in through the organisation's
identity provider). Its backend class is used as a client of one provider at
a time (``ProviderClient``): the token request, the JWKS lookup with the key
id and algorithm pinned, the signature check, the nonce check and the
userinfo request are the library's. What it leaves out, and is added here:

- several providers at once, each found from its issuer's discovery document;
- the ID token's issuer, audience (and ``azp``) and expiry are checked, and
  ``iat``/``sub`` required (mozilla-django-oidc checks the signature and the
  nonce only);
- every refusal says why, as a short code for the audit trail
  (``TokenRefused.reason``), and a provider that cannot be reached is told
  apart (``ProviderUnavailable``), so that the sign-in page can say so.

State, nonce and PKCE verifier are kept in the session by the library's
``add_state_and_verifier_and_nonce_to_session`` (with the provider's key
beside them); each state is used once.
"""

import logging
from urllib.parse import urlencode

import jwt
import requests
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from django.utils.crypto import get_random_string
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import add_state_and_verifier_and_nonce_to_session, generate_code_challenge

log = logging.getLogger("samverkan.security")

METADATA_SECONDS = 300
CLOCK_SKEW_SECONDS = 60

# Why a sign-in through a provider was refused (the SignInEvent's detail).
WRONG_ISSUER = "wrong issuer"
WRONG_AUDIENCE = "wrong audience"
WRONG_NONCE = "wrong nonce"
BAD_SIGNATURE = "bad signature"
EXPIRED = "expired token"
INVALID_TOKEN = "invalid token"
CODE_REFUSED = "authorization code refused"
STATE_MISMATCH = "state mismatch"
PROVIDER_ERROR = "error from provider"


class ProviderUnavailable(Exception):
    """The provider did not answer, or answered with a server error."""


class TokenRefused(Exception):
    def __init__(self, reason, detail=""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def metadata(provider, *, fresh=False):
    """The provider's discovery document (cached for a few minutes; ``fresh``
    asks the provider again, which also tells whether it answers)."""
    key = f"samverkan:oidc-metadata:{provider.issuer}"
    document = None if fresh else cache.get(key)
    if document is None:
        url = provider.issuer + "/.well-known/openid-configuration"
        try:
            response = requests.get(url, timeout=provider.timeout)
        except requests.RequestException as error:
            raise ProviderUnavailable(str(error)) from error
        if response.status_code != 200:
            raise ProviderUnavailable(f"{url} answered {response.status_code}")
        try:
            document = response.json()
        except ValueError as error:
            raise ProviderUnavailable(f"{url} is not JSON") from error
        if document.get("issuer", "").rstrip("/") != provider.issuer:
            # The discovery document must name the issuer it was fetched for (OpenID Discovery § 4.3).
            log.error("Discovery at %s names the issuer %r.", url, document.get("issuer"))
            raise ProviderUnavailable(f"{url} names another issuer")
        cache.set(key, document, METADATA_SECONDS)
    return document


def authorization_url(request, provider, *, redirect_uri, next_url):
    """Where to send the browser to sign in at ``provider``; remembers the
    state, nonce and PKCE verifier in the session."""
    endpoints = metadata(provider, fresh=True)
    state = get_random_string(32)
    verifier = get_random_string(64)
    params = {
        "response_type": "code",
        "scope": provider.scopes,
        "client_id": provider.client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "nonce": get_random_string(32),
        "code_challenge": generate_code_challenge(verifier, "S256"),
        "code_challenge_method": "S256",
    }
    add_state_and_verifier_and_nonce_to_session(request, state, params, verifier)
    request.session["oidc_states"][state].update({"provider": provider.key, "next": next_url or ""})
    request.session.modified = True
    return endpoints["authorization_endpoint"] + "?" + urlencode(params)


def pop_state(request, provider, state):
    """The session's entry for ``state`` (removed: a state is used once), or
    None when there is none for this provider."""
    states = request.session.get("oidc_states")
    if not state or not isinstance(states, dict) or state not in states:
        return None
    entry = states.pop(state)
    request.session.modified = True
    if not isinstance(entry, dict) or entry.get("provider") != provider.key:
        return None
    return entry


class ProviderClient(OIDCAuthenticationBackend):
    """mozilla-django-oidc's backend as the client of one provider. Not an
    authentication backend here: the callback view calls ``claims()`` and
    signs the user in itself."""

    def __init__(self, provider):
        self.provider = provider
        self.endpoints = metadata(provider)
        super().__init__()

    def get_settings(self, attr, *args):
        values = {
            "OIDC_OP_TOKEN_ENDPOINT": self.endpoints["token_endpoint"],
            "OIDC_OP_USER_ENDPOINT": self.endpoints.get("userinfo_endpoint"),
            "OIDC_OP_JWKS_ENDPOINT": self.endpoints["jwks_uri"],
            "OIDC_RP_CLIENT_ID": self.provider.client_id,
            "OIDC_RP_CLIENT_SECRET": self.provider.client_secret,
            "OIDC_RP_SIGN_ALGO": self.provider.sign_algo,
            "OIDC_RP_IDP_SIGN_KEY": None,
            "OIDC_TIMEOUT": self.provider.timeout,
            "OIDC_VERIFY_SSL": True,
            "OIDC_PROXY": None,
            "OIDC_USE_NONCE": True,
            "OIDC_ALLOW_UNSECURED_JWT": False,
            "OIDC_TOKEN_USE_BASIC_AUTH": False,
        }
        if attr in values:
            return values[attr]
        if args:
            return args[0]
        raise ImproperlyConfigured(f"{attr} is not set for the provider {self.provider.key}")

    # -- the ID token ----------------------------------------------------------

    def _verify_jws(self, payload, key):
        header = jwt.get_unverified_header(payload)
        if header.get("alg") != self.OIDC_RP_SIGN_ALGO:
            raise TokenRefused(BAD_SIGNATURE, f"algorithm {header.get('alg')!r}")
        try:
            claims = jwt.decode(
                payload,
                key,
                algorithms=[self.OIDC_RP_SIGN_ALGO],
                issuer=self.provider.issuer,
                audience=self.provider.client_id,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["iss", "aud", "exp", "iat", "sub"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise TokenRefused(EXPIRED) from error
        except jwt.InvalidIssuerError as error:
            raise TokenRefused(WRONG_ISSUER) from error
        except jwt.InvalidAudienceError as error:
            raise TokenRefused(WRONG_AUDIENCE) from error
        except jwt.InvalidSignatureError as error:
            raise TokenRefused(BAD_SIGNATURE) from error
        except jwt.PyJWTError as error:
            raise TokenRefused(INVALID_TOKEN, str(error)) from error
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.provider.client_id:
            raise TokenRefused(WRONG_AUDIENCE, "azp")
        return claims

    def verify_token(self, token, **kwargs):
        try:
            return super().verify_token(token, **kwargs)
        except SuspiciousOperation as error:
            # The library's two refusals: the nonce differs, or no published key has the token's key id.
            reason = WRONG_NONCE if "Nonce" in str(error) else BAD_SIGNATURE
            raise TokenRefused(reason, str(error)) from error
        except jwt.PyJWTError as error:
            raise TokenRefused(INVALID_TOKEN, str(error)) from error

    # -- the flow --------------------------------------------------------------

    def claims(self, *, code, redirect_uri, nonce, code_verifier):
        """Redeem ``code`` and return the verified claims of the person."""
        payload = {
            "client_id": self.provider.client_id,
            "client_secret": self.provider.client_secret,
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }
        try:
            token_info = self.get_token(payload)
        except requests.HTTPError as error:
            status = error.response.status_code if error.response is not None else 0
            if status >= 500:
                raise ProviderUnavailable(str(error)) from error
            # invalid_grant: a code used before, expired, or for another client or redirect.
            raise TokenRefused(CODE_REFUSED, _error_code(error.response)) from error
        except requests.RequestException as error:
            raise ProviderUnavailable(str(error)) from error
        id_token = token_info.get("id_token")
        if not id_token:
            raise TokenRefused(INVALID_TOKEN, "no id_token")
        try:
            claims = self.verify_token(id_token, nonce=nonce)
            if self.provider.userinfo:
                info = self.get_userinfo(token_info.get("access_token"), id_token, claims)
                if info.get("sub") != claims.get("sub"):
                    raise TokenRefused(INVALID_TOKEN, "userinfo for another subject")
                claims = {**info, **claims}
        except requests.RequestException as error:
            raise ProviderUnavailable(str(error)) from error
        return claims


def _error_code(response):
    try:
        return str(response.json().get("error", ""))[:50]
    except (ValueError, AttributeError):
        return ""
