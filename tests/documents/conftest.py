import pytest

from cases.agreements import pades


@pytest.fixture
def signing_certificate(tmp_path, settings):
    """A throwaway self-signed certificate and key (PEM files under tmp_path),
    configured as the region's signing certificate for the test."""
    certificate, key = pades.make_demo_certificate(
        common_name="TEST – Region Dalarna – ej giltig för underskrift", organisation="Region Dalarna (test)"
    )
    cert_path, key_path = tmp_path / "signing-cert.pem", tmp_path / "signing-key.pem"
    pades.write_pem(certificate, key, cert_path=cert_path, key_path=key_path)
    settings.SIGNING_PKCS12 = ""
    settings.SIGNING_CERT = str(cert_path)
    settings.SIGNING_KEY = str(key_path)
    return certificate
