"""manage.py create_demo_signing_certificate: the demo's self-signed signing
certificate, so that `make run` seals the signed agreements.

Writes a PEM certificate and key under settings.DEMO_SIGNING_DIR (git-ignored;
the local settings point SAMVERKAN_SIGNING_CERT/KEY at them). The certificate
says what it is: its common name is "DEMO – Region Dalarna – ej giltig för
underskrift". An existing certificate that still has more than 30 days left
is kept (--force makes a new one). Never for production: there the region's
own certificate is configured (README › Settings)."""

import datetime

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from cases.agreements import pades

COMMON_NAME = "DEMO – Region Dalarna – ej giltig för underskrift"


class Command(BaseCommand):
    help = "Create the demo's self-signed signing certificate (not valid for real signing)."
    requires_system_checks = []  # it is what makes the signing certificate check pass

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Replace an existing demo certificate.")

    def handle(self, *args, force=False, **options):
        from cryptography.x509 import load_pem_x509_certificate

        directory = settings.DEMO_SIGNING_DIR
        cert_path, key_path = directory / "certificate.pem", directory / "private-key.pem"
        if not force and cert_path.exists() and key_path.exists():
            try:
                existing = load_pem_x509_certificate(cert_path.read_bytes())
            except ValueError:
                existing = None
            if existing and existing.not_valid_after_utc > timezone.now() + datetime.timedelta(days=30):
                self.stdout.write(f"The demo signing certificate exists: {cert_path}")
                return
        certificate, key = pades.make_demo_certificate(
            common_name=COMMON_NAME, organisation="Region Dalarna (demo)", days=365
        )
        pades.write_pem(certificate, key, cert_path=cert_path, key_path=key_path)
        self.stdout.write(f"Demo signing certificate written: {cert_path} (key {key_path})")
