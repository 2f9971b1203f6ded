"""manage.py verify_document FILE: is FILE a PDF the system issued, and intact?

Exit status 0 when it is, 1 when it is not (changed, never issued, not a PDF,
cut short, too large), 2 when FILE cannot be read. Writes nothing."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from cases.agreements.verification import signature_line, verify_pdf


class Command(BaseCommand):
    help = "Say whether a PDF is one the system issued, unchanged, and for which agreement."

    def add_arguments(self, parser):
        parser.add_argument("file", help="the PDF to check")

    def handle(self, *args, file, **options):
        try:
            with open(file, "rb") as handle:
                verdict = verify_pdf(handle)
        except OSError as error:
            raise CommandError(f"{file}: {error.strerror or error}", returncode=2) from error
        with translation.override("sv"):
            lines = [f"{file}: {verdict.message}"]
            if verdict.sha256:
                lines.append(f"SHA-256: {verdict.sha256}")
            if verdict.document is not None:
                document = verdict.document
                lines.append(
                    f"{document.get_kind_display()}, {document.agreement.case_number} "
                    f"({document.agreement.municipality.name}), omgång {document.revision.round}, "
                    f"utfärdat {document.created_at:%Y-%m-%d %H:%M}"
                )
            if verdict.signature is not None:
                lines.append(str(signature_line(verdict.signature)))
        self.stdout.write("\n".join(lines))
        if not verdict.ok:
            raise SystemExit(1)
