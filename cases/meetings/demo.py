"""A demo dialogue meeting for `make run`: Regional kulturdialog with Falun,
Mora and Ludvika taking part, and action points for each (Ludvika's tied to a
collaboration area of its agreement in force). Recorded through the real
service; idempotent: nothing is added when a meeting exists."""

import datetime

from django.utils import timezone

from accounts.models import Organisation, User

from ..agreements.models import Agreement, PlanPeriod
from .models import DialogueMeeting
from .services import ActionPointInput, meeting_record

MINUTES = """Regional kulturdialog, höstens möte.

1. Uppföljningen av överenskommelserna: Ludvika redovisade hur samverkansområdena går.
   Kulturskolan i samverkan är försenad; övriga områden går enligt plan.
2. Kommunalt chefsnätverk: nästa träff planeras till våren.
3. Falun och Mora berättade om läget i sina överenskommelser.
"""


def seed_demo_meetings():
    """Record the demo meeting unless a dialogue meeting exists; return how many were created."""
    if DialogueMeeting.objects.exists():
        return 0
    coordinator = User.objects.get(email="samordnare@regiondalarna.se")
    falun, mora, ludvika = (Organisation.objects.get(kommunkod=code) for code in ("2080", "2062", "2085"))
    period = PlanPeriod.objects.get(name="2023–2026")
    held_on = min(timezone.localdate(), period.ends_on) - datetime.timedelta(days=21)
    ludvika_agreement = (
        Agreement.objects.live().filter(municipality=ludvika, plan_period=period).order_by("-created_at").first()
    )
    ludvika_area = None
    if ludvika_agreement is not None:
        areas = list(ludvika_agreement.active_areas())
        ludvika_area = next((a for a in areas if "Kulturskola" in a.title), areas[0] if areas else None)
    action_points = [
        ActionPointInput(
            municipality=ludvika,
            area=ludvika_area,
            description="Ta fram en plan för hur kulturskolans samverkan kommer i gång igen under våren.",
            owner_name="Maria Sjö, kulturchef",
            due_on=held_on + datetime.timedelta(days=60),
        ),
        ActionPointInput(
            municipality=falun,
            description="Skicka synpunkter på utkastet till överenskommelse till regionen.",
            owner_name="Karin Dahl, kulturchef",
            due_on=held_on + datetime.timedelta(days=14),  # already past: shows as overdue
        ),
        ActionPointInput(
            municipality=mora,
            description="Bjuda in till nästa träff i det kommunala chefsnätverket.",
            owner_name="Lars Ek, kulturchef",
            due_on=held_on + datetime.timedelta(days=90),
        ),
    ]
    meeting_record(
        actor=coordinator,
        held_on=held_on,
        place="Dalarnas museum, Falun",
        participants=[falun, mora, ludvika],
        minutes=MINUTES,
        action_points=action_points,
    )
    return 1
