"""How a signatory proves they sign (issue #12 item 6): the signing providers.

A provider is one way of establishing that the party's signatory signs the
frozen decision material. The signing step asks the provider what to show
(``begin``) and, with what the signatory or coordinator sent, for the proof
(``complete``); ``signature_record`` then records the signature with the
proof's method, signatory and attachment, in one transaction, whichever
provider gave it. A provider never writes the signature itself: who may sign,
the document check and the audit trail stay in the service.

Two providers are built, both tested (tests/workflows/test_signing.py,
tests/documents/test_signing_providers.py):

- ``in_system``: the signed-in signatory confirms who they are again (password,
  or the one-time code from their app; accounts/reauth.py).
- ``paper``: a coordinator registers the signatory's paper signature with its scan.

settings.SIGNING_PROVIDERS (env SAMVERKAN_SIGNING_PROVIDERS, default
"in_system,paper") says which are enabled; a disabled provider's page answers
404 and is not linked. A Swedish e-ID provider (BankID through a signing
service, Freja eID) plugs in as a third class here: README › Documents and
signatures › Signing providers says what it needs. None is built: these
machines cannot reach one, and a fake one would prove nothing."""

from dataclasses import dataclass, field
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from .models import SignatureMethod


@dataclass(frozen=True)
class Proof:
    """What a provider established: who signs, how (``SignatureMethod``), and
    for paper the scan (an uploaded file, stored as a signed-copy attachment)."""

    signatory: object
    method: str
    signed_copy_file: object = None
    # For an e-ID provider: what it returned to keep (the signed XML, the OCSP
    # response, the transaction id), stored with the signature (not built).
    evidence: dict = field(default_factory=dict)


class SigningProvider(Protocol):
    key: str
    label: str

    def begin(self, *, request, agreement, party) -> dict:
        """What the signing page needs to show (template context)."""

    def complete(self, *, request, agreement, party, data: dict) -> Proof:
        """Check what was sent (``data``: the form's cleaned values) and return
        the proof; raise ValidationError (with the field) when it does not hold."""


class InSystemProvider:
    """The signatory signs in Samverkan, confirming who they are again."""

    key = "in_system"
    label = _("In Samverkan, with renewed sign-in")

    def begin(self, *, request, agreement, party) -> dict:
        from accounts import reauth

        return {"uses_code": reauth.uses_code(request.user), "reauth_fresh": reauth.fresh_method(request) is not None}

    def complete(self, *, request, agreement, party, data) -> Proof:
        from accounts import reauth

        method = reauth.reauthenticate(request, data.get("secret") or "")
        return Proof(signatory=request.user, method=method)


class PaperProvider:
    """A coordinator registers the signatory's signature on paper, with its scan."""

    key = "paper"
    label = _("Registered paper signature")

    def begin(self, *, request, agreement, party) -> dict:
        from accounts.permissions import signatories_of

        from .services import PARTY_SIGN_ACTION

        return {"signatories": signatories_of(agreement.municipality, PARTY_SIGN_ACTION[party])}

    def complete(self, *, request, agreement, party, data) -> Proof:
        return Proof(signatory=data["signatory"], method=SignatureMethod.PAPER, signed_copy_file=data["signed_copy"])


PROVIDERS = {provider.key: provider for provider in (InSystemProvider(), PaperProvider())}


def enabled() -> dict:
    """The enabled providers by key, in the order settings name them."""
    unknown = [key for key in settings.SIGNING_PROVIDERS if key not in PROVIDERS]
    if unknown:
        raise ImproperlyConfigured(
            f"SAMVERKAN_SIGNING_PROVIDERS names unknown providers {unknown}; known: {sorted(PROVIDERS)}"
        )
    return {key: PROVIDERS[key] for key in settings.SIGNING_PROVIDERS}


def provider(key: str):
    """The enabled provider ``key``, or None when it is not enabled."""
    return enabled().get(key)
