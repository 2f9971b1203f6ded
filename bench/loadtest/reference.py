"""Reference data of the load: Sweden's 21 regions and 290 municipalities, the
plan periods with their priorities, and the people (per municipality a
cultural head and an official; per region two coordinators and an auditor;
one administrator), with their memberships, groups and guardian permissions.

Everything goes through the application's own code: users and memberships
through ``accounts.services`` (which derives the groups and object
permissions with ``accounts.permissions``), organisations, plan periods and
priorities through their models' ``save()`` under an audit context, so each
has its history row. Idempotent: what exists is kept."""

import datetime
import random
from dataclasses import dataclass

from django.db import transaction

from accounts import services as account_services
from accounts.history import audit_context
from accounts.models import Membership, Organisation, Role, User
from cases.models import PlanPeriod, PlanPriority

REASON = "Load data for benchmarks (generate_load_data)"

# (county code, region name, number of municipalities): 21 regions, 290 municipalities.
REGIONS = [
    ("01", "Region Stockholm", 26),
    ("03", "Region Uppsala", 8),
    ("04", "Region Sörmland", 9),
    ("05", "Region Östergötland", 13),
    ("06", "Region Jönköpings län", 13),
    ("07", "Region Kronoberg", 8),
    ("08", "Region Kalmar län", 12),
    ("09", "Region Gotland", 1),
    ("10", "Region Blekinge", 5),
    ("12", "Region Skåne", 33),
    ("13", "Region Halland", 6),
    ("14", "Västra Götalandsregionen", 49),
    ("17", "Region Värmland", 16),
    ("18", "Region Örebro län", 12),
    ("19", "Region Västmanland", 10),
    ("20", "Region Dalarna", 15),
    ("21", "Region Gävleborg", 10),
    ("22", "Region Västernorrland", 7),
    ("23", "Region Jämtland Härjedalen", 8),
    ("24", "Region Västerbotten", 15),
    ("25", "Region Norrbotten", 14),
]
DALARNA = "20"

# Plan periods before the ones the migrations load (2019–2022, 2023–2026, 2027–2030).
HISTORICAL_PERIODS = [(1999 + 4 * i, 2002 + 4 * i) for i in range(5)]  # 1999–2002 … 2015–2018
# The priorities of a period that has none (the migrations give 2023–2026 its own).
PRIORITIES = [
    ("chefsnatverk", "Stödja ett kommunalt chefsnätverk inom kulturområdet"),
    ("lanskulturvardar", "Utveckla samverkan med kommuner som är värdar för länskulturinstitutioner"),
    ("hallbara-livsmiljoer", "Bidra till att utveckla hållbara livsmiljöer"),
    ("kulturskolor", "Främja samverkan mellan de kommunala musik- och kulturskolorna"),
]
# Each role's title, as the people of the load are called (the templates' stand-ins too).
TITLES = {
    Role.COORDINATOR: "Regional samordnare",
    Role.AUDITOR: "Revisor",
    Role.ADMINISTRATOR: "Systemförvaltare",
    Role.CULTURAL_HEAD: "Kulturchef",
    Role.OFFICIAL: "Kultursekreterare",
}
FIRST_NAMES = ["Anna", "Erik", "Karin", "Lars", "Maria", "Johan", "Eva", "Nils", "Sara", "Per", "Ingrid", "Olof"]
LAST_NAMES = ["Berg", "Lind", "Dahl", "Ek", "Holm", "Sjö", "Ås", "Strand", "Nord", "Vik", "Lund", "Björk"]


@dataclass(frozen=True)
class Person:
    """Someone who takes steps: the user, and the address their requests come from."""

    id: int
    name: str
    title: str
    ip: str


@dataclass
class Reference:
    """What the load needs to know about the organisations, periods and people."""

    region_of: dict  # municipality id -> region Organisation
    municipalities: list  # Organisation, Dalarna's first
    periods: list  # PlanPeriod, oldest first
    priorities: dict  # period id -> {code: PlanPriority}
    coordinators: dict  # region id -> [Person]
    heads: dict  # municipality id -> Person
    officials: dict  # municipality id -> Person
    users_created: int = 0

    def period(self, name):
        return next(p for p in self.periods if p.name == name)


def municipality_codes(county, count):
    """``count`` synthetic but valid four-digit codes in ``county`` (e.g. 0114, 0117, …)."""
    step = max(1, min(3, (99 - 14) // max(count, 1)))
    return [f"{county}{14 + i * step:02d}" for i in range(count)]


def spread(total):
    """Municipalities per county: Sweden's counts when total is 290, else in
    proportion (at least one each; Dalarna's are its real ones)."""
    full = sum(n for _c, _name, n in REGIONS)
    if total >= full:
        return {c: n for c, _name, n in REGIONS}
    wanted = {c: max(1, round(n * total / full)) for c, _name, n in REGIONS}
    wanted[DALARNA] = min(15, max(wanted[DALARNA], 1))
    return wanted


def address(index):
    """A client address per person (the load's requests come from 10.0.0.0/8)."""
    return f"10.{index // 65536 % 256}.{index // 256 % 256}.{index % 256}"


def _save(obj):
    obj.full_clean()
    obj.save()
    return obj


@transaction.atomic
def ensure_reference(
    *, municipalities=290, seed=1, historical_periods=True, region_people=None, log=print
) -> Reference:
    """Regions, ``municipalities`` municipalities (spread over the regions as
    in Sweden; Dalarna's 15 real ones first), plan periods with priorities,
    and the people with their memberships: in every municipality, and in the
    regions of ``region_people`` (county codes; default all)."""
    rng = random.Random(seed)
    with audit_context(reason=REASON):
        regions = {}
        for county, name, _count in REGIONS:
            regions[county] = Organisation.objects.filter(kind=Organisation.Kind.REGION, name=name).first() or _save(
                Organisation(kind=Organisation.Kind.REGION, name=name, kommunkod="")
            )
        wanted = spread(municipalities)
        existing = {o.kommunkod: o for o in Organisation.objects.filter(kind=Organisation.Kind.MUNICIPALITY)}
        chosen = []  # (county, Organisation)
        for county, *_rest in REGIONS:
            if county == DALARNA:
                codes = sorted(c for c in existing if c.startswith(DALARNA))[: wanted[county]]
            else:
                codes = municipality_codes(county, wanted[county])
            for code in codes:
                if code not in existing:
                    existing[code] = _save(
                        Organisation(kind=Organisation.Kind.MUNICIPALITY, name=f"Testkommun {code}", kommunkod=code)
                    )
                chosen.append((county, existing[code]))
        chosen.sort(key=lambda pair: (pair[0] != DALARNA, pair[1].kommunkod))

        for start, end in HISTORICAL_PERIODS if historical_periods else ():
            if not PlanPeriod.objects.filter(name=f"{start}–{end}").exists():
                _save(
                    PlanPeriod(
                        name=f"{start}–{end}",
                        starts_on=datetime.date(start, 1, 1),
                        ends_on=datetime.date(end, 12, 31),
                        is_active=False,
                    )
                )
        periods = list(PlanPeriod.objects.order_by("starts_on"))
        for period in periods:
            if not period.priorities.exists():
                for code, title in PRIORITIES:
                    _save(PlanPriority(plan_period=period, code=code, title=title))

    # People: (e-mail, role, organisation).
    wanted_people = []
    for county, _name, _count in REGIONS:
        if region_people is not None and county not in region_people:
            continue
        region = regions[county]
        wanted_people += [(f"samordnare{n}.{county}@last.example.se", Role.COORDINATOR, region) for n in (1, 2)]
        wanted_people.append((f"revisor.{county}@last.example.se", Role.AUDITOR, region))
    wanted_people.append(("admin@last.example.se", Role.ADMINISTRATOR, regions[DALARNA]))
    for _county, municipality in chosen:
        code = municipality.kommunkod
        wanted_people.append((f"kulturchef.{code}@last.example.se", Role.CULTURAL_HEAD, municipality))
        wanted_people.append((f"tjansteperson.{code}@last.example.se", Role.OFFICIAL, municipality))
    users = {u.email: u for u in User.objects.filter(email__in=[w[0] for w in wanted_people])}
    have = set(Membership.objects.filter(user__in=users.values()).values_list("user_id", "organisation_id", "role"))
    created = 0
    for email, role, organisation in wanted_people:
        name = (
            f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"  # drawn for everyone: the same seed, the same names
        )
        user = users.get(email)
        if user is None:
            user = users[email] = account_services.user_create(
                actor=None, email=email, full_name=name, title=TITLES[role], reason=REASON
            )
            created += 1
        if (user.pk, organisation.pk, role) not in have:
            account_services.membership_create(
                actor=None, user=user, organisation=organisation, role=role, reason=REASON
            )

    coordinators, heads, officials = {}, {}, {}
    for index, (email, role, organisation) in enumerate(wanted_people, start=1):
        user = users[email]
        person = Person(id=user.pk, name=user.full_name, title=user.title, ip=address(index))
        if role == Role.COORDINATOR:
            coordinators.setdefault(organisation.pk, []).append(person)
        elif role == Role.CULTURAL_HEAD:
            heads[organisation.pk] = person
        elif role == Role.OFFICIAL:
            officials[organisation.pk] = person
    priorities = {}
    for priority in PlanPriority.objects.all():
        priorities.setdefault(priority.plan_period_id, {})[priority.code] = priority
    log(
        f"  reference data: {len(regions)} regions, {len(chosen)} municipalities, {len(periods)} plan periods, "
        f"{len(users)} users ({created} new)"
    )
    return Reference(
        region_of={m.pk: regions[county] for county, m in chosen},
        municipalities=[m for _c, m in chosen],
        periods=periods,
        priorities=priorities,
        coordinators=coordinators,
        heads=heads,
        officials=officials,
        users_created=created,
    )
