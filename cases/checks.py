"""System checks of the cases app (``manage.py check``, and at start-up of
runserver and the worker).

The region's signing certificate (cases/agreements/pades.py): missing,
unreadable, expired, not yet valid, without its private key or with a key that
is not its own. With SAMVERKAN_SIGNING_REQUIRED (set it in production) each is
an error, so `check` fails; otherwise a configured certificate that cannot sign
is a warning and no certificate at all is only a note: the signed agreements
then wait, each with its failure shown on the agreement's page, until one is
configured."""

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security)
def signing_certificate(app_configs=None, **kwargs):
    from cases.agreements import pades

    problem = pades.certificate_problem()
    if problem is None:
        return []
    hint = (
        "Configure SAMVERKAN_SIGNING_PKCS12 (+ SAMVERKAN_SIGNING_PKCS12_PASSWORD) or SAMVERKAN_SIGNING_CERT and "
        "SAMVERKAN_SIGNING_KEY (README › Settings); for the demo: manage.py create_demo_signing_certificate."
    )
    message = f"The signed agreements cannot be PAdES-signed: {problem}"
    if settings.SIGNING_REQUIRED:
        return [checks.Error(message, hint=hint, id="samverkan.E101")]
    if not pades.configured():
        return [checks.Info(message, hint=hint, id="samverkan.I101")]
    return [checks.Warning(message, hint=hint, id="samverkan.W101")]
