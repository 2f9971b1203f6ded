"""The region's PAdES signature on the signed agreement (pyHanko).

The certificate and its private key come from configuration (README › Settings):
either a PKCS#12 file (``SAMVERKAN_SIGNING_PKCS12``) whose password is in the
environment (``SAMVERKAN_SIGNING_PKCS12_PASSWORD``), or a PEM certificate and
a PEM key (``SAMVERKAN_SIGNING_CERT``, ``SAMVERKAN_SIGNING_KEY``, the key's
password, if any, in ``SAMVERKAN_SIGNING_KEY_PASSWORD``).

``certificate_problems`` says what is wrong with the configured certificate
(missing, unreadable, expired, not yet valid, no private key, a key that is not
the certificate's); the system check (``cases.checks``) reports it and
``sign_pdf`` refuses with the same message (``SigningUnavailable``), never with
an unexplained error.

``sign_pdf`` adds the signature as an incremental update: the bytes of the
document signed stay as they were (so its PDF/A-2b declaration, its XMP and its
fonts stay), followed by an invisible signature field whose CMS signature
(PAdES baseline B, SHA-256) covers the whole file. ``validate_pdf`` checks it
with pyHanko's validator, the configured certificate as the trust root."""

import datetime
import io
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

FIELD_NAME = "Samverkan"


class SigningUnavailable(Exception):
    """The configured certificate cannot sign; the message says why (Swedish in the UI)."""


@dataclass(frozen=True)
class Credentials:
    certificate: object  # cryptography.x509.Certificate
    private_key: object  # a cryptography private key
    chain: tuple = ()


def configured() -> bool:
    """Is a certificate configured at all (either way)?"""
    return bool(settings.SIGNING_PKCS12 or settings.SIGNING_CERT or settings.SIGNING_KEY)


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise SigningUnavailable(
            _("The signing %(what)s %(path)s cannot be read: %(error)s")
            % {"what": what, "path": path, "error": error.strerror or error}
        ) from error


def load_credentials() -> Credentials:
    """The configured certificate and key, checked; raises SigningUnavailable."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key, pkcs12
    from cryptography.x509 import load_pem_x509_certificate

    if not configured():
        raise SigningUnavailable(
            _(
                "No signing certificate is configured (SAMVERKAN_SIGNING_PKCS12, or SAMVERKAN_SIGNING_CERT "
                "and SAMVERKAN_SIGNING_KEY)."
            )
        )
    if settings.SIGNING_PKCS12:
        data = _read(settings.SIGNING_PKCS12, _("PKCS#12 file"))
        password = settings.SIGNING_PKCS12_PASSWORD.encode() if settings.SIGNING_PKCS12_PASSWORD else None
        try:
            key, certificate, chain = pkcs12.load_key_and_certificates(data, password)
        except (ValueError, TypeError) as error:
            raise SigningUnavailable(
                _("The PKCS#12 file %(path)s cannot be opened (wrong password, or not a PKCS#12 file).")
                % {"path": settings.SIGNING_PKCS12}
            ) from error
        chain = tuple(chain or ())
    else:
        if not settings.SIGNING_CERT:
            raise SigningUnavailable(
                _("SAMVERKAN_SIGNING_KEY is set but SAMVERKAN_SIGNING_CERT (the certificate) is not.")
            )
        try:
            certificate = load_pem_x509_certificate(_read(settings.SIGNING_CERT, _("certificate file")))
        except ValueError as error:
            raise SigningUnavailable(
                _("%(path)s is not a PEM certificate.") % {"path": settings.SIGNING_CERT}
            ) from error
        key = None
        if settings.SIGNING_KEY:
            password = settings.SIGNING_KEY_PASSWORD.encode() if settings.SIGNING_KEY_PASSWORD else None
            try:
                key = load_pem_private_key(_read(settings.SIGNING_KEY, _("key file")), password)
            except (ValueError, TypeError) as error:
                raise SigningUnavailable(
                    _("%(path)s is not a PEM private key (or its password is wrong).") % {"path": settings.SIGNING_KEY}
                ) from error
        chain = ()
    if certificate is None:
        raise SigningUnavailable(_("The configured signing file holds no certificate."))
    if key is None:
        raise SigningUnavailable(_("The signing certificate has no private key configured: it cannot sign."))
    if key.public_key().public_numbers() != certificate.public_key().public_numbers():
        raise SigningUnavailable(_("The configured private key does not belong to the signing certificate."))
    now = timezone.now()
    if certificate.not_valid_after_utc < now:
        raise SigningUnavailable(
            _("The signing certificate expired on %(date)s.")
            % {"date": timezone.localtime(certificate.not_valid_after_utc).strftime("%Y-%m-%d %H:%M")}
        )
    if certificate.not_valid_before_utc > now:
        raise SigningUnavailable(
            _("The signing certificate is not valid until %(date)s.")
            % {"date": timezone.localtime(certificate.not_valid_before_utc).strftime("%Y-%m-%d %H:%M")}
        )
    return Credentials(certificate=certificate, private_key=key, chain=chain)


def certificate_problem() -> str | None:
    """What is wrong with the configured certificate, or None when it can sign."""
    try:
        load_credentials()
    except SigningUnavailable as error:
        return str(error)
    return None


def subject_name(certificate) -> str:
    from cryptography.x509.oid import NameOID

    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else certificate.subject.rfc4514_string()


def _signer(credentials: Credentials):
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    der = credentials.certificate.public_bytes(Encoding.DER)
    key_der = credentials.private_key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    chain = [asn1_x509.Certificate.load(c.public_bytes(Encoding.DER)) for c in credentials.chain]
    return signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(der),
        signing_key=asn1_keys.PrivateKeyInfo.load(key_der),
        cert_registry=SimpleCertificateStore.from_certs(chain),
    )


def sign_pdf(pdf: bytes, *, reason: str, location: str = "", credentials: Credentials | None = None) -> bytes:
    """``pdf`` with the region's PAdES signature over the whole file (incremental update)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    credentials = credentials or load_credentials()
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    metadata = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location=location or None,
        name=subject_name(credentials.certificate),
    )
    output = signers.sign_pdf(writer, metadata, signer=_signer(credentials), timestamper=None)
    return output.getvalue()


@dataclass(frozen=True)
class SignatureCheck:
    """What pyHanko's validator says of a PDF's signature."""

    present: bool
    intact: bool = False  # the signed bytes are unchanged
    valid: bool = False  # the CMS signature is cryptographically correct
    trusted: bool = False  # its certificate chains to the configured one
    whole_file: bool = False  # it covers the whole file (nothing added after it)
    signer: str = ""
    signed_at: datetime.datetime | None = None
    error: str = ""

    @property
    def ok(self):
        return self.present and self.intact and self.valid and self.trusted and self.whole_file


def trust_root():
    """The configured certificate (asn1crypto), the trust root of the validation; None if none is readable."""
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        credentials = load_credentials()
    except SigningUnavailable:
        return None
    return asn1_x509.Certificate.load(credentials.certificate.public_bytes(Encoding.DER))


def validate_pdf(pdf: bytes, *, root=None) -> SignatureCheck:
    """Check the (last) signature of ``pdf`` with the configured certificate as trust root."""
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko_certvalidator import ValidationContext

    root = root or trust_root()
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        signatures = reader.embedded_signatures
    except (PdfError, ValueError, KeyError, TypeError, OSError) as error:
        return SignatureCheck(present=False, error=str(error))
    if not signatures:
        return SignatureCheck(present=False)
    embedded = signatures[-1]
    context = ValidationContext(trust_roots=[root] if root is not None else [], allow_fetching=False)
    try:
        status = validate_pdf_signature(embedded, context)
    except (SignatureValidationError, PdfError, ValueError, KeyError, TypeError) as error:
        return SignatureCheck(present=True, error=str(error))
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    return SignatureCheck(
        present=True,
        intact=bool(status.intact),
        valid=bool(status.valid),
        trusted=bool(status.trusted),
        whole_file=status.coverage == SignatureCoverageLevel.ENTIRE_FILE,
        signer=status.signing_cert.subject.human_friendly if status.signing_cert else "",
        signed_at=status.signer_reported_dt,
    )


def make_demo_certificate(*, common_name: str, organisation: str, days: int = 3650):
    """A self-signed certificate and its RSA key, (certificate, key) in cryptography's types.
    For the demo (manage.py create_demo_signing_certificate) and the tests; never for real signing."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def write_pem(certificate, key, *, cert_path: Path, key_path: Path):
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    cert_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.parent.mkdir(parents=True, exist_ok=True)
    cert_path.write_bytes(certificate.public_bytes(Encoding.PEM))
    key_path.touch(mode=0o600)
    key_path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
