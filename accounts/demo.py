"""Demo users for `make run`. Idempotent: a second run changes nothing."""

from . import audit_reasons as reasons
from .models import Membership, Organisation, Role, User
from .services import membership_create, user_create

DEMO_PASSWORD = "samverkan-demo-2026"

# (e-mail, full name, title, role, kommunkod or None for the region)
DEMO_USERS = [
    ("samordnare@regiondalarna.se", "Anna Berg", "Regional samordnare", Role.COORDINATOR, None),
    ("samordnare2@regiondalarna.se", "Per Lind", "Regional samordnare", Role.COORDINATOR, None),
    ("kulturchef@falun.se", "Karin Dahl", "Kulturchef", Role.CULTURAL_HEAD, "2080"),
    ("kulturchef@mora.se", "Lars Ek", "Kulturchef", Role.CULTURAL_HEAD, "2062"),
    ("tjansteperson@mora.se", "Sara Holm", "Kultursekreterare", Role.OFFICIAL, "2062"),
    ("kulturchef@ludvika.se", "Maria Sjö", "Kulturchef", Role.CULTURAL_HEAD, "2085"),
    ("kulturchef@leksand.se", "Johan Ås", "Kultur- och fritidschef", Role.CULTURAL_HEAD, "2029"),
    ("kulturchef@rattvik.se", "Eva Strand", "Kulturchef", Role.CULTURAL_HEAD, "2031"),
    ("kulturchef@borlange.se", "Nils Berg", "Kulturchef", Role.CULTURAL_HEAD, "2081"),
    ("revisor@regiondalarna.se", "Erik Nord", "Revisor", Role.AUDITOR, None),
    ("admin@regiondalarna.se", "Ingrid Vik", "Systemförvaltare", Role.ADMINISTRATOR, None),
]


def seed_demo_users():
    """Create the demo users and memberships that are missing; return how many."""
    region = Organisation.objects.get(kind=Organisation.Kind.REGION)
    created = 0
    for email, full_name, title, role, kommunkod in DEMO_USERS:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = user_create(
                actor=None,
                email=email,
                full_name=full_name,
                title=title,
                password=DEMO_PASSWORD,
                reason=reasons.DEMO_DATA,
            )
            created += 1
        organisation = region if kommunkod is None else Organisation.objects.get(kommunkod=kommunkod)
        if not Membership.objects.filter(user=user, organisation=organisation, role=role, is_active=True).exists():
            membership_create(actor=None, user=user, organisation=organisation, role=role, reason=reasons.DEMO_DATA)
    return created


# The partners in the dialogue (the seed names länskulturen and folkbildningen): Region Dalarna's
# county cultural institutions and folk high schools. They take part in dialogue meetings, never sign.
DEMO_PARTNERS = [
    ("Dalarnas museum", Organisation.PartnerType.COUNTY_CULTURAL_INSTITUTION),
    ("Dalateatern", Organisation.PartnerType.COUNTY_CULTURAL_INSTITUTION),
    ("Musik i Dalarna", Organisation.PartnerType.COUNTY_CULTURAL_INSTITUTION),
    ("Fornby folkhögskola", Organisation.PartnerType.FOLK_HIGH_SCHOOL),
    ("Malungs folkhögskola", Organisation.PartnerType.FOLK_HIGH_SCHOOL),
    ("Mora folkhögskola", Organisation.PartnerType.FOLK_HIGH_SCHOOL),
]
# The body that decides on the agreement in each demo municipality, offered when its decision is recorded.
DEMO_DECIDING_BODIES = {
    None: "Kultur- och bildningsnämnden, Region Dalarna",
    "2080": "Kultur- och fritidsnämnden",
    "2062": "Kommunstyrelsen",
    "2085": "Kommunstyrelsen",
    "2029": "Kultur- och fritidsnämnden",
    "2081": "Kultur- och fritidsnämnden",
    "2031": "Kommunstyrelsen",
}


def seed_demo_organisations():
    """The partners in the dialogue and the demo municipalities' deciding bodies,
    where missing; returns how many partners were added."""
    from .services import organisation_update, partner_create

    added = 0
    for name, partner_type in DEMO_PARTNERS:
        if not Organisation.objects.filter(kind=Organisation.Kind.PARTNER, name=name).exists():
            partner_create(actor=None, name=name, partner_type=partner_type)
            added += 1
    for kommunkod, body in DEMO_DECIDING_BODIES.items():
        organisation = (
            Organisation.objects.get(kind=Organisation.Kind.REGION)
            if kommunkod is None
            else Organisation.objects.get(kommunkod=kommunkod)
        )
        if not organisation.deciding_body:
            organisation.deciding_body = body
            organisation_update(actor=None, organisation=organisation, reason=reasons.DEMO_DATA)
    return added
