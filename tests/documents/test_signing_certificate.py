"""The region's signing certificate: `manage.py check` says what is wrong with
it (missing, no private key, someone else's key, expired, a PKCS#12 file with
a wrong password), as a warning, or as an error when signing is required; a
good one (PEM or PKCS#12) passes and signs."""

import datetime

import pytest
import time_machine
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
from django.core.management import call_command

from cases.agreements import pades
from cases.checks import signing_certificate


def ids(messages):
    return [(message.id, message.msg) for message in messages]


@pytest.fixture
def files(tmp_path):
    certificate, key = pades.make_demo_certificate(common_name="TEST – Region Dalarna", organisation="Region Dalarna")
    pades.write_pem(certificate, key, cert_path=tmp_path / "cert.pem", key_path=tmp_path / "key.pem")
    _other, other_key = pades.make_demo_certificate(common_name="Annan", organisation="Annan")
    pades.write_pem(_other, other_key, cert_path=tmp_path / "other.pem", key_path=tmp_path / "other-key.pem")
    (tmp_path / "signing.p12").write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"region", key, certificate, None, BestAvailableEncryption("hemligt-lösen".encode())
        )
    )
    return tmp_path


def configure(settings, *, pkcs12_path="", pkcs12_password="", cert="", key="", required=False):
    settings.SIGNING_PKCS12 = pkcs12_path
    settings.SIGNING_PKCS12_PASSWORD = pkcs12_password
    settings.SIGNING_CERT = cert
    settings.SIGNING_KEY = key
    settings.SIGNING_KEY_PASSWORD = ""
    settings.SIGNING_REQUIRED = required


def test_nothing_configured_is_a_note_or_an_error_when_required(settings):
    configure(settings)
    [message] = signing_certificate()
    assert message.id == "samverkan.I101" and "Inget certifikat" in message.msg
    configure(settings, required=True)
    [message] = signing_certificate()
    assert message.id == "samverkan.E101"


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("no key", "ingen privat nyckel"),
        ("someone else's key", "hör inte till certifikatet"),
        ("missing file", "kan inte läsas"),
        ("not a certificate", "inte ett PEM-certifikat"),
        ("wrong PKCS#12 password", "kan inte öppnas"),
    ],
)
def test_a_certificate_that_cannot_sign_is_named(settings, files, case, expected):
    options = {
        "no key": {"cert": str(files / "cert.pem")},
        "someone else's key": {"cert": str(files / "cert.pem"), "key": str(files / "other-key.pem")},
        "missing file": {"cert": str(files / "nowhere.pem"), "key": str(files / "key.pem")},
        "not a certificate": {"cert": str(files / "key.pem"), "key": str(files / "key.pem")},
        "wrong PKCS#12 password": {"pkcs12_path": str(files / "signing.p12"), "pkcs12_password": "fel"},
    }[case]
    configure(settings, **options)
    [message] = signing_certificate()
    assert message.id == "samverkan.W101" and expected in message.msg, message.msg
    with pytest.raises(pades.SigningUnavailable, match=expected):
        pades.sign_pdf(b"%PDF-1.7\n", reason="test")
    configure(settings, **options, required=True)
    assert ids(signing_certificate())[0][0] == "samverkan.E101"


def test_an_expired_certificate_is_named(settings, files):
    configure(settings, cert=str(files / "cert.pem"), key=str(files / "key.pem"))
    assert signing_certificate() == []
    with time_machine.travel(datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=3660)):
        [message] = signing_certificate()
    assert "gick ut" in message.msg


def test_check_command_fails_when_required_and_missing(settings):
    from django.core.management.base import SystemCheckError

    configure(settings, required=True)
    with pytest.raises(SystemCheckError, match="samverkan.E101"):
        call_command("check")


def test_pkcs12_with_its_password_signs_and_validates(settings, files):
    from weasyprint import HTML

    configure(settings, pkcs12_path=str(files / "signing.p12"), pkcs12_password="hemligt-lösen")
    assert signing_certificate() == []
    pdf = HTML(string="<p>Hej</p>").write_pdf(pdf_variant="pdf/a-2b")
    signed = pades.sign_pdf(pdf, reason="test")
    assert signed.startswith(pdf)  # an incremental update: the original bytes stay
    check = pades.validate_pdf(signed)
    assert check.ok and "TEST – Region Dalarna" in check.signer
    # Validated against another root, it is intact and valid but not trusted.
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509 import load_pem_x509_certificate

    other = load_pem_x509_certificate((files / "other.pem").read_bytes())
    check = pades.validate_pdf(signed, root=asn1_x509.Certificate.load(other.public_bytes(Encoding.DER)))
    assert check.intact and check.valid and not check.trusted and not check.ok
