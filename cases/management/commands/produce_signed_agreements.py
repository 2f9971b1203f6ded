"""manage.py produce_signed_agreements: queue again the signed agreements whose
production failed (e.g. while no usable certificate was configured), or with
--agreement, one agreement's. The worker does the work."""

from django.core.management.base import BaseCommand

from cases.agreements.services import signed_agreement_queue
from cases.models import AgreementDocument, DocumentProduction


class Command(BaseCommand):
    help = "Queue again the production of signed agreements that failed."

    def add_arguments(self, parser):
        parser.add_argument("--agreement", type=int, help="Only this agreement (its id).")

    def handle(self, *args, agreement=None, **options):
        jobs = DocumentProduction.objects.filter(
            kind=AgreementDocument.Kind.SIGNED_AGREEMENT, state=DocumentProduction.State.FAILED
        ).select_related("agreement")
        if agreement is not None:
            jobs = jobs.filter(agreement_id=agreement)
        count = 0
        for job in jobs:
            signed_agreement_queue(actor=None, agreement=job.agreement)
            count += 1
        self.stdout.write(f"{count} queued again.")
