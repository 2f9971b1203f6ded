"""Start the processes of agreements imported before the import started them
(README › Running the plan › Import). Run once after upgrading; safe to run
again: it starts none twice."""

from django.core.management.base import BaseCommand

from workflows.services import imported_processes_start


class Command(BaseCommand):
    help = "Start the process of each imported agreement (in force or closed) that has none. Safe to run twice."

    def handle(self, *args, **options):
        started = imported_processes_start()
        self.stdout.write(f"Processes started: {len(started)}.")
