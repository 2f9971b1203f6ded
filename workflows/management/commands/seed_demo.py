"""Demo data for `make run`: users for every role (and, as the product grows,
agreements in every stage). Idempotent: a second run changes nothing.

It lives in ``workflows``, the top layer, because it seeds every layer below
(accounts, cases, processes) and dependencies point only downwards."""

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.demo import DEMO_PASSWORD, DEMO_USERS, seed_demo_organisations, seed_demo_users
from cases.meetings.demo import seed_demo_meetings
from workflows.demo import seed_demo_agreements, seed_earlier_agreements
from workflows.notifications import notifications_suppressed


class Command(BaseCommand):
    help = "Create demo users (and demo agreements) for trying Samverkan. Safe to run twice."

    @transaction.atomic
    def handle(self, *args, **options):
        created = seed_demo_users()
        partners = seed_demo_organisations()
        self.stdout.write(f"Partners in the dialogue added: {partners}.")
        self.stdout.write(f"Demo users created: {created} (of {len(DEMO_USERS)}).")
        with notifications_suppressed():
            earlier = seed_earlier_agreements()
            agreements = seed_demo_agreements()
            seed_demo_meetings()
        self.stdout.write(f"Earlier agreements (2019–2022) imported: {earlier}.")
        self.stdout.write(f"Demo agreements created: {agreements}.")
        self.stdout.write(f"Every demo user's password: {DEMO_PASSWORD}")
        for email, _name, _title, role, kommunkod in DEMO_USERS:
            self.stdout.write(f"  {email:32} {role.label} {kommunkod or ''}")
