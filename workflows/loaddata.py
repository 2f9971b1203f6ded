"""Load data for benchmarks: Sweden's 21 regions and 290 municipalities, many
plan periods, agreements in every stage with their viewflow processes, tasks,
due dates and the complete history, at volume (100,000 agreements and more
than a million history rows in a few minutes).

Used by ``manage.py generate_load_data`` (a dedicated database, never the test
database) and, at small scale, by tests/perf. Nothing here is used by the
running application.

How it stays consistent with the real thing
-------------------------------------------
Each agreement is *simulated*, step by step, by ``Story``: the same steps as
the services and the flow (open, save the draft, send for review, accept or
ask for changes, both decisions, both signatures, yearly follow-ups on their
timers, closing at the period's end, withdrawal, rejection), writing the rows
each step writes in production: the domain rows, the viewflow process, every
task with its status, token, owner, owner permission (on the municipality's
row) and ``previous`` links, the due date of each human step, and one history
row per save with who, when, why, from where and in which task, in the
Swedish wording of the services. tests/perf/test_load_data.py runs the real
services next to ``Story`` for every scenario and compares the two.

How it is fast
--------------
Reference data (organisations, plan periods, users, memberships) is small and
goes through the ORM: ``bulk_create`` inside the one escape hatch,
``accounts.audited_models.bulk_writes_allowed()``, with simple-history's
``bulk_create_with_history`` for their history, and the groups and guardian
permissions through ``accounts.permissions`` itself. The volume (agreements
and everything hanging off them) is written as PostgreSQL COPY text into
spool files first, then loaded with ``COPY … FROM STDIN``: domain tables in
one transaction, then the history tables in two parallel connections (one
chain per table, so two tables never wait for each other). The database's
hash-chain trigger runs for every history row, as it does for every insert;
nothing bypasses or disables it, so ``manage.py verify_audit`` verifies the
chains afterwards. The simulated history keeps its own times: the generator
runs as a database superuser with ``samverkan.audit_keep_time`` on, on every
connection that writes history (the bulk-loader contract in
cases/audit/sql.py); for any other role the database would stamp every row
with the time of loading.
"""

import datetime
import json
import os
import random
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from django.apps import apps
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history
from viewflow.workflow.models import Process, Task

from accounts import permissions
from accounts.audited_models import bulk_writes_allowed
from accounts.models import Membership, Organisation, Role, User
from cases.audit.sql import KEEP_TIME_SETTING, keep_time_session
from cases.follow_ups.services import follow_up_date
from cases.models import (
    Agreement,
    AgreementRevision,
    CaseNumberSequence,
    CollaborationArea,
    Decision,
    FollowUp,
    FollowUpEntry,
    Party,
    PlanPeriod,
    PlanPriority,
    ReviewComment,
    Signature,
    Stage,
)
from cases.workdays import add_working_days

from .demo import SAMPLE_AREAS
from .flows import AgreementFlow
from .models import AgreementProcess, TaskDeadline

REASON = "Load data for benchmarks (generate_load_data)"
DAY = datetime.timedelta(days=1)

# ---------------------------------------------------------------------------
# Reference data: Sweden's regions, their county codes and municipality counts
# ---------------------------------------------------------------------------

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
PRIORITIES = [
    ("chefsnatverk", "Stödja ett kommunalt chefsnätverk inom kulturområdet"),
    ("lanskulturvardar", "Utveckla samverkan med kommuner som är värdar för länskulturinstitutioner"),
    ("hallbara-livsmiljoer", "Bidra till att utveckla hållbara livsmiljöer"),
    ("kulturskolor", "Främja samverkan mellan de kommunala musik- och kulturskolorna"),
]

# The demo's two areas (workflows.demo), then more of the same kind.
AREAS = [
    *SAMPLE_AREAS,
    (
        "Bibliotek som mötesplats",
        "hallbara-livsmiljoer",
        "Folkbiblioteken utvecklas till öppna mötesplatser för hela kommunen.",
        "Regionbiblioteket erbjuder kompetensutveckling och metodstöd.",
        "Kommunen utvecklar bibliotekets öppettider och programverksamhet.",
    ),
    (
        "Länsteatern på turné",
        "lanskulturvardar",
        "Scenkonst av hög kvalitet når alla delar av länet.",
        "Regionen finansierar turnéer och marknadsför föreställningarna.",
        "Kommunen ordnar spelplatser och når nya publikgrupper.",
    ),
    (
        "Kulturarv i landskapet",
        "hallbara-livsmiljoer",
        "Det lokala kulturarvet görs tillgängligt och levande.",
        "Länsmuseet bidrar med antikvarisk kompetens.",
        "Kommunen vårdar och skyltar kulturmiljöerna.",
    ),
    (
        "Unga arrangörer",
        "kulturskolor",
        "Unga får ordna egna kulturevenemang med stöd av vuxna.",
        "Regionen utbildar unga arrangörer och ger startbidrag.",
        "Kommunen ställer lokaler och en kontaktperson till förfogande.",
    ),
    (
        "Konstnärers villkor",
        "chefsnatverk",
        "Fler professionella kulturskapare kan verka i kommunen.",
        "Regionen erbjuder ateljéstöd och rådgivning.",
        "Kommunen upphandlar offentlig konst och anlitar lokala konstnärer.",
    ),
    (
        "Folkbildning och studieförbund",
        "lanskulturvardar",
        "Folkbildningen når fler vuxna som saknar gymnasieutbildning.",
        "Regionen samordnar folkhögskolornas insatser.",
        "Kommunen samverkar med studieförbunden om lokaler och uppsökande arbete.",
    ),
]
NARRATIVES = [
    "Arbetet går enligt plan och fler deltar än väntat.",
    "Vi har kommit igång men personalbyten har försenat arbetet något.",
    "Insatsen är genomförd och utvärderad tillsammans med regionen.",
    "Vi behöver mer stöd från regionen för att nå målet.",
]
WITHDRAW_REASONS = [
    "Kommunen vill avvakta nästa planperiod.",
    "Överenskommelsen ersätts av en ny med annan inriktning.",
    "Fel planperiod valdes vid upprättandet.",
    "Kommunens organisation ses över; ett nytt förslag kommer.",
]
FIRST_NAMES = ["Anna", "Erik", "Karin", "Lars", "Maria", "Johan", "Eva", "Nils", "Sara", "Per", "Ingrid", "Olof"]
LAST_NAMES = ["Berg", "Lind", "Dahl", "Ek", "Holm", "Sjö", "Ås", "Strand", "Nord", "Vik", "Lund", "Björk"]


def _zone():
    return timezone.get_default_timezone()


def _start_of(day):
    """Midnight at the start of ``day``, Swedish time (as the flow's timers)."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min), _zone())


def _local_date(moment):
    return timezone.localtime(moment, _zone()).date()


def municipality_codes(county, count):
    """``count`` synthetic but valid four-digit codes in ``county`` (e.g. 0114,
    0117, …); Dalarna keeps its 15 real codes."""
    step = max(1, min(3, (99 - 14) // max(count, 1)))
    return [f"{county}{14 + i * step:02d}" for i in range(count)]


@dataclass
class Person:
    id: int
    name: str
    title: str
    ip: str


@dataclass
class Reference:
    """What the stories need to know about the organisations, periods and people."""

    region_of: dict  # municipality id -> region Organisation
    municipalities: list  # Organisation
    periods: list  # PlanPeriod, oldest first
    priorities: dict  # period id -> {code: PlanPriority}
    coordinators: dict  # region id -> [Person]
    heads: dict  # municipality id -> Person
    officials: dict  # municipality id -> Person
    users_created: int = 0
    organisations_created: int = 0


def _person(user, index):
    return Person(
        id=user.pk,
        name=user.full_name,
        title=user.title or "",
        ip=f"10.{index // 65536 % 256}.{index // 256 % 256}.{index % 256}",
    )


def _name(rng):
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


@transaction.atomic
def ensure_reference(*, municipalities=290, seed=1, log=print) -> Reference:
    """Regions, municipalities (``municipalities`` of them, spread over the
    regions as in Sweden; Dalarna's 15 real ones first), plan periods with
    priorities, and per municipality a cultural head and an official, per
    region two coordinators and an auditor, with memberships, groups and
    guardian permissions. Idempotent: what exists is kept."""
    rng = random.Random(seed)
    created_orgs = 0
    with bulk_writes_allowed(reason=REASON):
        regions = {}
        for county, name, _count in REGIONS:
            org = Organisation.objects.filter(kind=Organisation.Kind.REGION, name=name).first()
            regions[county] = org
        missing = [
            Organisation(kind=Organisation.Kind.REGION, name=name, kommunkod="")
            for c, name, _n in REGIONS
            if regions[c] is None
        ]
        if missing:
            bulk_create_with_history(missing, Organisation, default_change_reason=REASON)
            created_orgs += len(missing)
            for org in missing:
                county = next(c for c, name, _n in REGIONS if name == org.name)
                regions[county] = org

        # How many municipalities per region: Sweden's real counts, scaled down for small runs.
        wanted = _spread(municipalities)
        existing = {o.kommunkod: o for o in Organisation.objects.filter(kind=Organisation.Kind.MUNICIPALITY)}
        new_orgs, chosen = [], []
        for county, *_rest in REGIONS:
            if county == DALARNA:
                codes = sorted(c for c in existing if c.startswith(DALARNA))[: wanted[county]]
            else:
                codes = municipality_codes(county, wanted[county])
            for code in codes:
                if code not in existing:
                    org = Organisation(kind=Organisation.Kind.MUNICIPALITY, name=f"Testkommun {code}", kommunkod=code)
                    new_orgs.append(org)
                    existing[code] = org
                chosen.append((county, code))
        if new_orgs:
            bulk_create_with_history(new_orgs, Organisation, default_change_reason=REASON)
            created_orgs += len(new_orgs)
        municipality_list = [existing[code] for _c, code in chosen]
        region_of = {existing[code].pk: regions[county] for county, code in chosen}

        # Plan periods: the historical ones, and four priorities for every period that has none.
        new_periods = [
            PlanPeriod(
                name=f"{start}–{end}",
                starts_on=datetime.date(start, 1, 1),
                ends_on=datetime.date(end, 12, 31),
                is_active=False,
            )
            for start, end in HISTORICAL_PERIODS
            if not PlanPeriod.objects.filter(name=f"{start}–{end}").exists()
        ]
        if new_periods:
            bulk_create_with_history(new_periods, PlanPeriod, default_change_reason=REASON)
        periods = list(PlanPeriod.objects.order_by("starts_on"))
        new_priorities = [
            PlanPriority(plan_period=period, code=code, title=title)
            for period in periods
            if not period.priorities.exists()
            for code, title in PRIORITIES
        ]
        if new_priorities:
            bulk_create_with_history(new_priorities, PlanPriority, default_change_reason=REASON)
        priorities = {}
        for priority in PlanPriority.objects.all():
            priorities.setdefault(priority.plan_period_id, {})[priority.code] = priority

        # People and their memberships.
        wanted_users = []  # (email, name, title, role, organisation)
        for county, _region_name, _count in REGIONS:
            region = regions[county]
            for n in (1, 2):
                wanted_users.append(
                    (
                        f"samordnare{n}.{county}@last.example.se",
                        _name(rng),
                        "Regional samordnare",
                        Role.COORDINATOR,
                        region,
                    )
                )
            wanted_users.append((f"revisor.{county}@last.example.se", _name(rng), "Revisor", Role.AUDITOR, region))
        wanted_users.append(
            ("admin@last.example.se", _name(rng), "Systemförvaltare", Role.ADMINISTRATOR, regions[DALARNA])
        )
        for municipality in municipality_list:
            code = municipality.kommunkod
            wanted_users.append(
                (f"kulturchef.{code}@last.example.se", _name(rng), "Kulturchef", Role.CULTURAL_HEAD, municipality)
            )
            wanted_users.append(
                (f"tjansteperson.{code}@last.example.se", _name(rng), "Kultursekreterare", Role.OFFICIAL, municipality)
            )
        users = {u.email: u for u in User.objects.filter(email__in=[w[0] for w in wanted_users])}
        unusable = make_password(None)
        new_users = [
            User(email=email, full_name=name, title=title, password=unusable, is_staff=role == Role.ADMINISTRATOR)
            for email, name, title, role, _org in wanted_users
            if email not in users
        ]
        if new_users:
            bulk_create_with_history(new_users, User, default_change_reason=REASON)
            users.update({u.email: u for u in new_users})
        have = set(Membership.objects.filter(user__in=users.values()).values_list("user_id", "organisation_id", "role"))
        new_memberships = [
            Membership(user=users[email], organisation=org, role=role)
            for email, _n, _t, role, org in wanted_users
            if (users[email].pk, org.pk, role) not in have
        ]
        if new_memberships:
            bulk_create_with_history(new_memberships, Membership, default_change_reason=REASON)

    # Groups and guardian permissions, as accounts.permissions derives them:
    # one group per region role with model-wide permissions (region_group),
    # and one group per municipality and municipal role holding object
    # permissions on the municipality's row only, the same names and rows as
    # municipality_group() gives, written in bulk (its assign_perm() costs
    # three queries per permission).
    if new_memberships:
        group_of = _municipality_groups(municipality_list)
        for membership in new_memberships:
            if membership.role in permissions.REGION_WIDE_ROLES:
                group_of[(membership.role, membership.organisation_id)] = permissions.region_group(membership.role)
        through = User.groups.through
        through.objects.bulk_create(
            [through(user_id=m.user_id, group_id=group_of[(m.role, m.organisation_id)].pk) for m in new_memberships],
            ignore_conflicts=True,
        )

    index = {}
    coordinators, heads, officials = {}, {}, {}
    for i, (email, _n, _t, role, org) in enumerate(wanted_users):
        person = _person(users[email], i + 1)
        index[email] = person
        if role == Role.COORDINATOR:
            coordinators.setdefault(org.pk, []).append(person)
        elif role == Role.CULTURAL_HEAD:
            heads[org.pk] = person
        elif role == Role.OFFICIAL:
            officials[org.pk] = person
    log(
        f"  reference data: {len(regions)} regions, {len(municipality_list)} municipalities, "
        f"{len(periods)} plan periods, {len(users)} users ({len(new_users)} new)"
    )
    return Reference(
        region_of=region_of,
        municipalities=municipality_list,
        periods=periods,
        priorities=priorities,
        coordinators=coordinators,
        heads=heads,
        officials=officials,
        users_created=len(new_users),
        organisations_created=created_orgs,
    )


def _municipality_groups(municipalities):
    """{(role, municipality id): Group} of the municipal roles: the groups of
    accounts.permissions.municipality_group(), created in bulk where missing
    with their object permissions."""
    from django.contrib.auth.models import Group, Permission
    from guardian.models import GroupObjectPermission

    roles = sorted(r for r in permissions.ROLE_ACTIONS if r not in permissions.REGION_WIDE_ROLES)
    names = {
        (role, m.pk): permissions._municipality_group_name(role, m)  # noqa: SLF001 (the same names)
        for role in roles
        for m in municipalities
    }
    existing = {g.name: g for g in Group.objects.filter(name__in=names.values())}
    missing = [Group(name=name) for name in names.values() if name not in existing]
    Group.objects.bulk_create(missing)
    created = {g.name for g in missing}
    existing.update({g.name: g for g in Group.objects.filter(name__in=created)})
    permission_ids = dict(Permission.objects.filter(content_type__app_label="accounts").values_list("codename", "pk"))
    organisation_type = ContentType.objects.get_for_model(Organisation)
    GroupObjectPermission.objects.bulk_create(
        [
            GroupObjectPermission(
                group=existing[name],
                permission_id=permission_ids[codename],
                content_type=organisation_type,
                object_pk=str(municipality_id),
            )
            for (role, municipality_id), name in names.items()
            if name in created
            for codename in permissions._role_permissions(role)  # noqa: SLF001 (the same permissions)
        ],
        ignore_conflicts=True,
    )
    return {key: existing[name] for key, name in names.items()}


def _spread(total):
    """Municipalities per county: Sweden's counts when total is 290, else in
    proportion (at least one each; Dalarna's are its real ones)."""
    full = sum(n for _c, _name, n in REGIONS)
    if total >= full:
        return {c: n for c, _name, n in REGIONS}
    wanted = {c: max(1, round(n * total / full)) for c, _name, n in REGIONS}
    wanted[DALARNA] = min(15, max(wanted[DALARNA], 1))
    return wanted


# ---------------------------------------------------------------------------
# Output: COPY text spools, one per table
# ---------------------------------------------------------------------------


def _escape(text):
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def _cell(value):
    """A value in PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    kind = type(value)
    if kind is str:
        return _escape(value)
    if kind is int:
        return str(value)
    if kind is bool:
        return "t" if value else "f"
    if kind is datetime.datetime or kind is datetime.date:
        return value.isoformat()
    if kind is dict or kind is list:
        return _escape(json.dumps(value, ensure_ascii=False))
    return _escape(str(value))


class Table:
    """One table: its columns (from the model) and the spool file of the current batch."""

    def __init__(self, model, directory, history=False):
        self.model = model
        self.name = model._meta.db_table
        self.columns = [f.column for f in model._meta.local_concrete_fields]
        self.pk = model._meta.pk.column
        self.history = history
        self.directory = directory
        self.rows = 0  # in every batch so far
        self.batch = 0
        self._open()

    def _open(self):
        self.path = os.path.join(self.directory, f"{self.name}.{self.batch}.copy")
        self.file = open(self.path, "w", encoding="utf-8", buffering=1 << 20)  # noqa: SIM115 (closed in spool())
        self.batch_rows = 0

    def write(self, values):
        self.file.write("\t".join([_cell(v) for v in values]))
        self.file.write("\n")
        self.batch_rows += 1

    def write_state(self, state):
        self.write([state[c] for c in self.columns])

    def spool(self):
        """Close the current batch's file and start the next: the Spool to load."""
        self.file.close()
        done = Spool(table=self.name, columns=self.columns, path=self.path, rows=self.batch_rows)
        self.rows += self.batch_rows
        self.batch += 1
        self._open()
        return done

    def close(self):
        self.file.close()


@dataclass(frozen=True)
class Spool:
    """One batch of one table, ready for COPY."""

    table: str
    columns: list
    path: str
    rows: int


HISTORY_OWN = (
    "history_id",
    "history_date",
    "history_type",
    "history_user_id",
    "history_change_reason",
    "history_ip",
    "history_task_id",
    "history_hash",
)


class Output:
    """The spools of every table a story writes, the ids it hands out, and the load."""

    def __init__(self, directory):
        self.directory = directory
        domain = {
            "agreement": Agreement,
            "area": CollaborationArea,
            "area_priority": CollaborationArea.priorities.through,
            "revision": AgreementRevision,
            "comment": ReviewComment,
            "decision": Decision,
            "signature": Signature,
            "follow_up": FollowUp,
            "entry": FollowUpEntry,
            "process": Process,
            "agreement_process": AgreementProcess,
            "task": Task,
            "task_previous": Task.previous.through,
            "deadline": TaskDeadline,
        }
        self.tables = {key: Table(model, directory) for key, model in domain.items()}
        for key in (
            "agreement",
            "area",
            "revision",
            "comment",
            "decision",
            "signature",
            "follow_up",
            "entry",
            "deadline",
        ):
            model = self.tables[key].model
            self.tables[f"h_{key}"] = Table(model.history.model, directory, history=True)
        self.tables["h_area_priority"] = Table(
            apps.get_model("cases", "HistoricalCollaborationArea_priorities"), directory, history=True
        )
        self.next_ids = {}
        self.case_numbers = {}  # (prefix, year) -> last number
        with connection.cursor() as cursor:
            for key, table in self.tables.items():
                if key == "agreement_process":
                    continue
                cursor.execute(f'SELECT coalesce(max("{table.pk}"), 0) FROM "{table.name}"')  # noqa: S608 (model metadata)
                self.next_ids[key] = cursor.fetchone()[0] + 1
            for prefix, year, last in CaseNumberSequence.objects.values_list("prefix", "year", "last_number"):
                self.case_numbers[(prefix, year)] = last
        self.prefix = settings.CASE_NUMBER_PREFIX

    def id(self, key):
        value = self.next_ids[key]
        self.next_ids[key] = value + 1
        return value

    def case_number(self, year):
        number = self.case_numbers.get((self.prefix, year), 0) + 1
        self.case_numbers[(self.prefix, year)] = number
        return f"{self.prefix} {year}/{number:04d}"

    def row(self, key, state):
        self.tables[key].write_state(state)

    def history(self, key, state, *, htype, at, user, reason, task, ip):
        """One history row of ``state`` (the object's columns after the save)."""
        table = self.tables[f"h_{key}"]
        own = {
            "history_id": self.id(f"h_{key}"),
            "history_date": at,
            "history_type": htype,
            "history_user_id": user,
            "history_change_reason": reason,
            "history_ip": ip,
            "history_task_id": task,
            "history_hash": "",
        }
        table.write([own[c] if c in own else state[c] for c in table.columns])
        return own["history_id"]

    def m2m_history(self, history_id, area_id, links):
        """The links an area history row recorded (simple-history's m2m history table)."""
        table = self.tables["h_area_priority"]
        for through_id, priority_id in links:
            table.write_state(
                {
                    "id": through_id,
                    "m2m_history_id": self.id("h_area_priority"),
                    "collaborationarea_id": area_id,
                    "history_id": history_id,
                    "planpriority_id": priority_id,
                    "history_hash": "",  # set by the database
                }
            )

    def spools(self):
        """The current batch of every table ({key: Spool}); the next batch starts."""
        return {key: table.spool() for key, table in self.tables.items()}

    def close(self):
        for table in self.tables.values():
            table.close()

    def fix_sequences(self):
        with transaction.atomic(), connection.cursor() as cursor:
            for key, table in self.tables.items():
                if key == "agreement_process":
                    continue
                cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table.name, table.pk])
                sequence = cursor.fetchone()[0]
                if sequence:
                    cursor.execute(
                        f'SELECT setval(%s, greatest((SELECT max("{table.pk}") FROM "{table.name}"), 1))',  # noqa: S608
                        [sequence],
                    )
            for (prefix, year), last in self.case_numbers.items():
                CaseNumberSequence.objects.update_or_create(prefix=prefix, year=year, defaults={"last_number": last})

    def counts(self):
        return {t.name: t.rows for t in self.tables.values()}

    def history_keys(self):
        return {key for key, table in self.tables.items() if table.history}


def _copy(cursor, spool):
    if spool.rows:
        columns = ", ".join(f'"{c}"' for c in spool.columns)
        with cursor.copy(f'COPY "{spool.table}" ({columns}) FROM STDIN') as copy, open(spool.path, "rb") as data:  # noqa: S608
            while chunk := data.read(1 << 20):
                copy.write(chunk)
    os.unlink(spool.path)


# Which tables must be committed before a table can be loaded (its foreign keys).
DEPENDS = {
    "agreement_process": {"agreement", "process"},
    "area": {"agreement"},
    "revision": {"agreement"},
    "comment": {"agreement", "area"},
    "decision": {"agreement"},
    "signature": {"agreement"},
    "follow_up": {"agreement"},
    "task": {"process"},
    "area_priority": {"area"},
    "entry": {"follow_up", "area"},
    "task_previous": {"task"},
    "deadline": {"task"},
}
# Started first: the tables others wait for, then the longest loads.
FIRST = ("agreement", "process", "task")


def _priority(key, spool):
    return (key not in FIRST, FIRST.index(key) if key in FIRST else 0, -spool.rows)


class Loader:
    """Loads batches of spools while the next batch is being written.

    ``workers`` connections each take the next job that is ready: one table of
    one batch, COPYed and committed on its own. A job is ready when the tables
    it refers to in its batch have been committed (``DEPENDS``), and the same
    table of the previous batch too: a later agreement may name an earlier one
    as its predecessor, and a hash chain takes its rows in id order. The
    history tables refer to nothing but users, so they start at once.

    With ``workers=0`` every job runs at once in the caller's connection and
    transaction, in dependency order (the tests, which run in a transaction)."""

    def __init__(self, *, workers=2):
        self.workers = workers
        self.lock = threading.Condition()
        self.pending = []  # (batch, key, spool)
        self.committed = set()  # (batch, key)
        self.batches = 0
        self.closed = False
        self.errors = []
        self.threads = []
        if workers:
            self.params = connection.get_connection_params()
            self.threads = [threading.Thread(target=self._work, daemon=True) for _ in range(workers)]
            for thread in self.threads:
                thread.start()

    def submit(self, spools):
        batch = self.batches
        self.batches += 1
        if not self.workers:
            with keep_time_session(connection), connection.cursor() as cursor:
                for key in self._order(spools):
                    _copy(cursor.cursor, spools[key])
            return
        jobs = sorted(((batch, key, spool) for key, spool in spools.items()), key=lambda j: _priority(j[1], j[2]))
        with self.lock:
            if self.errors:
                raise self.errors[0]
            self.pending.extend(jobs)
            self.lock.notify_all()

    @staticmethod
    def _order(spools):
        pending = sorted(spools, key=lambda k: _priority(k, spools[k]))
        order, done = [], set()
        while pending:
            key = next(k for k in pending if DEPENDS.get(k, set()) <= done)
            pending.remove(key)
            order.append(key)
            done.add(key)
        return order

    def _ready(self, batch, key):
        needs = {(batch, k) for k in DEPENDS.get(key, ())}
        if batch:
            needs.add((batch - 1, key))
        return needs <= self.committed

    def _next(self):
        with self.lock:
            while True:
                if self.errors:
                    return None
                for job in self.pending:
                    if self._ready(job[0], job[1]):
                        self.pending.remove(job)
                        return job
                if self.closed and not self.pending:
                    return None
                self.lock.wait()

    def _work(self):
        import psycopg

        try:
            with psycopg.connect(**self.params) as conn:
                conn.execute("SET synchronous_commit = off")  # a benchmark database: speed over durability
                conn.execute(f"SET {KEEP_TIME_SETTING} = 'on'")  # simulated history keeps its times (superuser)
                while (job := self._next()) is not None:
                    batch, key, spool = job
                    with conn.cursor() as cursor:
                        _copy(cursor, spool)
                    conn.commit()
                    with self.lock:
                        self.committed.add((batch, key))
                        self.lock.notify_all()
        except Exception as exc:  # raised in the main thread
            with self.lock:
                self.errors.append(exc)
                self.lock.notify_all()

    def finish(self):
        with self.lock:
            self.closed = True
            self.lock.notify_all()
        for thread in self.threads:
            thread.join()
        if self.errors:
            raise self.errors[0]


# ---------------------------------------------------------------------------
# One agreement, step by step
# ---------------------------------------------------------------------------


class Nodes:
    """What the rows say about each node of AgreementFlow."""

    def __init__(self):
        flow_task = Task._meta.get_field("flow_task")
        self.flow_class = Process._meta.get_field("flow_class").get_prep_value(AgreementFlow)
        self.ref = {}
        self.type = {}
        self.perm = {}
        for node in AgreementFlow.instance.nodes():
            self.ref[node.name] = flow_task.get_prep_value(node)
            self.type[node.name] = node.task_type
            action = getattr(node, "action", None)
            if action is not None:
                self.perm[node.name] = permissions.perm_name(action)
        self.organisation_type = ContentType.objects.get_for_model(Organisation).pk


class Clock:
    """Event times within a step: each row a few milliseconds after the last."""

    def __init__(self, at):
        self.at = at

    def set(self, at):
        self.at = max(self.at + datetime.timedelta(milliseconds=3), at)
        return self.at

    def tick(self, ms=2):
        self.at += datetime.timedelta(milliseconds=ms)
        return self.at


class Story:
    """An agreement's life, written as the services and the flow write it."""

    def __init__(self, gen, *, municipality, period, coordinator, head, official, opened_at, rng, predecessor=None):
        self.gen, self.out, self.nodes = gen, gen.out, gen.nodes
        self.municipality, self.period = municipality, period
        self.coordinator, self.head, self.official = coordinator, head, official
        self.rng = rng
        self.clock = Clock(opened_at)
        self.predecessor = predecessor
        self.tasks = []
        self.open = {}  # node name -> open task (human step, waiting join, scheduled timer)
        self.areas = []  # area states, in position order
        self.links = {}  # area id -> [(through id, priority id)]
        self.follow_up = None
        self.entries = []
        self.decisions = []
        self.signatures = []
        self.follow_ups = []
        self.all_entries = []
        self.years_done = set()

    # -- rows ------------------------------------------------------------------

    def _ctx(self, person=None, *, reason=None, task=None, ip=True):
        return {
            "user": person.id if person else None,
            "reason": reason,
            "task": task["id"] if task else None,
            "ip": person.ip if (person and ip) else None,
        }

    def _save_agreement(self, ctx, htype="~"):
        at = self.clock.tick()
        self.agreement["updated_at"] = at
        self.out.history("agreement", self.agreement, htype=htype, at=self.clock.tick(1), **ctx)

    def _task(self, name, *, previous=(), token="start", status="NEW", at=None):  # noqa: S107 (a viewflow token)
        at = at or self.clock.tick()
        task = {
            "id": self.out.id("task"),
            "process_id": self.process["id"],
            "flow_task": self.nodes.ref[name],
            "flow_task_type": self.nodes.type[name],
            "status": status,
            "created": at,
            "assigned": None,
            "started": None,
            "finished": None,
            "scheduled": None,
            "token": token,
            "external_task_id": None,
            "owner_id": None,
            "owner_permission": None,
            "owner_permission_content_type_id": None,
            "owner_permission_obj_pk": None,
            "data": {},
            "seed_content_type_id": None,
            "seed_object_id": None,
            "artifact_content_type_id": None,
            "artifact_object_id": None,
            "_name": name,
            "_previous": [p["id"] for p in previous],
        }
        self.tasks.append(task)
        return task

    def _done(self, task, *, started=True):
        at = self.clock.tick()
        task["status"] = "DONE"
        task["started"] = at if started else None
        task["finished"] = self.clock.tick(0) + datetime.timedelta(microseconds=30)
        self.open.pop(task["_name"], None)

    def _human(self, name, *, previous, ctx, token="start"):  # noqa: S107 (a viewflow token)
        """A human step reaches its party: the task, its due date and the due date's history."""
        task = self._task(name, previous=previous, token=token)
        task["owner_permission"] = self.nodes.perm[name]
        task["owner_permission_content_type_id"] = self.nodes.organisation_type
        task["owner_permission_obj_pk"] = str(self.municipality.pk)
        deadline = {
            "id": self.out.id("deadline"),
            "task_id": task["id"],
            # The rule of AgreementStep.default_due_on: STEP_DUE_DAYS working days.
            "due_on": add_working_days(_local_date(task["created"]), settings.STEP_DUE_DAYS[name]),
        }
        self.out.row("deadline", deadline)
        self.out.history("deadline", deadline, htype="+", at=self.clock.tick(), **ctx)
        self.open[name] = task
        return task

    def _complete(self, name, person):
        task = self.open.pop(name)
        task["owner_id"] = person.id
        self._done(task)
        return task

    def _gateway(self, name, previous):
        task = self._task(name, previous=[previous], status="DONE")
        task["finished"] = self.clock.tick()
        return task

    def _timer(self, name, previous, scheduled):
        task = self._task(name, previous=[previous], status="SCHEDULED")
        task["scheduled"] = scheduled
        self.open[name] = task
        return task

    # -- the steps ---------------------------------------------------------------

    def open_agreement(self, title=None):
        at = self.clock.at
        coordinator = self.coordinator
        self.agreement = {
            "id": self.out.id("agreement"),
            "municipality_id": self.municipality.pk,
            "plan_period_id": self.period.pk,
            "case_number": self.out.case_number(_local_date(at).year),
            "title": title or f"Överenskommelse om kultursamverkan {self.municipality.name} {self.period.name}",
            "stage": Stage.DRAFTING.value,
            "review_round": 1,
            "predecessor_id": self.predecessor["id"] if self.predecessor else None,
            "created_by_id": coordinator.id,
            "created_at": at,
            "updated_at": at,
            "in_force_since": None,
            "ended_at": None,
            "end_reason": "",
        }
        reason = _("Agreement opened")
        self.out.history(
            "agreement", self.agreement, htype="+", at=self.clock.tick(), **self._ctx(coordinator, reason=reason)
        )
        self.process = {
            "id": self.out.id("process"),
            "flow_class": self.nodes.flow_class,
            "status": "NEW",
            "created": self.clock.tick(),
            "finished": None,
            "data": {},
            "parent_task_id": None,
            "seed_content_type_id": None,
            "seed_object_id": None,
            "artifact_content_type_id": None,
            "artifact_object_id": None,
        }
        start = self._task("start", status="DONE", at=self.process["created"])
        start["started"] = start["created"] - datetime.timedelta(microseconds=20)
        start["finished"] = self.clock.tick()
        self._human("draft", previous=[start], ctx=self._ctx(coordinator, reason=reason))
        if self.predecessor is not None:
            self._copy_areas()

    def _copy_areas(self):
        """Renewal: the predecessor's areas become the draft (services.agreement_copy_areas)."""
        coordinator = self.coordinator
        reason = _("Collaboration areas copied from %(case)s") % {"case": self.predecessor["case_number"]}
        ctx = self._ctx(coordinator, reason=reason)
        for old in self.predecessor["_areas"]:
            area = {
                **old,
                "id": self.out.id("area"),
                "agreement_id": self.agreement["id"],
                "copied_from_id": old["id"],
                "removed_at": None,
            }
            self.areas.append(area)
            self.links[area["id"]] = []
            self.out.history("area", area, htype="+", at=self.clock.tick(), **ctx)
            priority = self.gen.priority(self.period, old["_code"])
            if priority is not None:
                self._link(area, priority, ctx)
                self._area_history(area, "~", ctx)  # copy.save() after the links are set

    def _link(self, area, priority, ctx):
        through = self.out.id("area_priority")
        self.links[area["id"]] = [(through, priority.pk)]
        history_id = self.out.history("area", area, htype="~", at=self.clock.tick(), **ctx)
        self.out.m2m_history(history_id, area["id"], self.links[area["id"]])

    def _area_history(self, area, htype, ctx):
        history_id = self.out.history("area", area, htype=htype, at=self.clock.tick(), **ctx)
        self.out.m2m_history(history_id, area["id"], self.links[area["id"]])

    def save_draft(self, at, *, new_areas=0, edits=0):
        """The coordinator saves the draft: new areas, then edits of existing ones."""
        self.clock.set(at)
        task = self.open["draft"]
        ctx = self._ctx(self.coordinator, reason=_("Draft saved"), task=task)
        used = {a["title"] for a in self.areas}
        for template in [t for t in AREAS if t[0] not in used][:new_areas]:
            title, code, goal, region, municipality = template
            area = {
                "id": self.out.id("area"),
                "agreement_id": self.agreement["id"],
                "position": len(self.areas) + 1,
                "title": title,
                "goal": goal,
                "region_commitment": region,
                "municipality_commitment": municipality,
                "contacts": f"{self.coordinator.name}, regional samordnare",
                "copied_from_id": None,
                "removed_at": None,
                "_code": code,
            }
            self.areas.append(area)
            self.links[area["id"]] = []
            self.out.history("area", area, htype="+", at=self.clock.tick(), **ctx)
            priority = self.gen.priority(self.period, code)
            if priority is not None:
                self._link(area, priority, ctx)
        for n in range(edits if self.areas else 0):
            area = self.areas[n % len(self.areas)]
            area["goal"] = f"{area['goal'].split(' (rev')[0]} (rev {self.rng.randint(2, 99)})"
            self._area_history(area, "~", ctx)

    def submit(self, at):
        """The draft goes to the municipality (agreement_submit_for_review)."""
        self.clock.set(at)
        if not self.areas:
            self.save_draft(at, new_areas=2)
        task = self.open["draft"]
        round_ = self.agreement["review_round"]
        reason = _("Draft sent for municipal review (round %(round)s)") % {"round": round_}
        ctx = self._ctx(self.coordinator, reason=reason, task=task)
        content = [
            {
                "id": a["id"],
                "title": a["title"],
                "goal": a["goal"],
                "region_commitment": a["region_commitment"],
                "municipality_commitment": a["municipality_commitment"],
                "contacts": a["contacts"],
                "priorities": sorted(self.gen.priority_titles[p] for _t, p in self.links[a["id"]]),
            }
            for a in self.areas
        ]
        revision = {
            "id": self.out.id("revision"),
            "agreement_id": self.agreement["id"],
            "round": round_,
            "title": self.agreement["title"],
            "content": content,
            "created_by_id": self.coordinator.id,
            "created_at": self.clock.tick(),
        }
        self.out.row("revision", revision)
        self.out.history("revision", revision, htype="+", at=self.clock.tick(), **ctx)
        self.agreement["stage"] = Stage.REVIEW.value
        self._save_agreement(ctx)
        done = self._complete("draft", self.coordinator)
        self._human("review", previous=[done], ctx=self._ctx(self.coordinator, task=done))

    def review(self, at, *, accept=True, comment="", area_comment=None):
        self.clock.set(at)
        head = self.head
        task = self.open["review"]
        round_ = self.agreement["review_round"]
        if accept:
            ctx = self._ctx(head, reason=_("Draft accepted in municipal review"), task=task)
            if comment:
                self._comment(round_, None, comment, True, ctx)
            self.agreement["stage"] = Stage.APPROVAL.value
        else:
            ctx = self._ctx(
                head, reason=_("Changes requested in municipal review (round %(round)s)") % {"round": round_}, task=task
            )
            self._comment(round_, None, "Vi vill att målen blir tydligare och mätbara.", False, ctx)
            if area_comment is None:
                area_comment = self.rng.random() < 0.5
            if self.areas and area_comment:
                self._comment(round_, self.areas[0]["id"], "Beskriv hur arbetet följs upp.", False, ctx)
            self.agreement["stage"] = Stage.DRAFTING.value
            self.agreement["review_round"] = round_ + 1
        self._save_agreement(ctx)
        done = self._complete("review", head)
        step_ctx = self._ctx(head, task=done)
        gate = self._gateway("after_review", done)
        if accept:
            split = self._gateway("approval", gate)
            self._human("region_decision", previous=[split], token=f"start/{split['id']}_1", ctx=step_ctx)
            self._human("municipal_decision", previous=[split], token=f"start/{split['id']}_2", ctx=step_ctx)
        else:
            self._human("draft", previous=[gate], ctx=step_ctx)

    def _comment(self, round_, area_id, text, resolved, ctx):
        comment = {
            "id": self.out.id("comment"),
            "agreement_id": self.agreement["id"],
            "round": round_,
            "area_id": area_id,
            "author_id": ctx["user"],
            "text": text,
            "resolved": resolved,
            "created_at": self.clock.tick(),
        }
        self.out.row("comment", comment)
        self.out.history("comment", comment, htype="+", at=self.clock.tick(), **ctx)

    def decide(self, at, party, *, outcome=Decision.Outcome.APPROVED, ends=False):
        """One party's political decision (decision_record), and what the flow does next."""
        self.clock.set(at)
        party = Party(party)
        region = party == Party.REGION
        person = self.coordinator if region else self.head
        step = "region_decision" if region else "municipal_decision"
        other = "municipal_decision" if region else "region_decision"
        task = self.open[step]
        outcome = Decision.Outcome(outcome)
        reason = _("%(party)s decision recorded: %(outcome)s") % {"party": party.label, "outcome": outcome.label}
        ctx = self._ctx(person, reason=reason, task=task)
        body = "Kultur- och bildningsnämnden" if region else "Kommunstyrelsen"
        paragraph = f"§ {self.rng.randint(1, 180)}"
        meeting = max(self.period.starts_on, _local_date(at) - datetime.timedelta(days=self.rng.randint(0, 14)))
        decision = {
            "id": self.out.id("decision"),
            "agreement_id": self.agreement["id"],
            "round": self.agreement["review_round"],
            "party": party.value,
            "body": body,
            "meeting_date": meeting,
            "paragraph": paragraph,
            "outcome": outcome.value,
            "ends_agreement": ends,
            "minutes_id": None,
            "recorded_by_id": person.id,
            "recorded_at": self.clock.tick(),
        }
        self.out.row("decision", decision)
        self.out.history("decision", decision, htype="+", at=self.clock.tick(), **ctx)
        self.decisions.append(decision)
        approved_now = {
            d["party"]
            for d in self.decisions
            if d["round"] == self.agreement["review_round"] and d["outcome"] == Decision.Outcome.APPROVED
        }
        if outcome == Decision.Outcome.REJECTED and ends:
            self.agreement["stage"] = Stage.REJECTED.value
            self.agreement["ended_at"] = self.clock.tick()
            self.agreement["end_reason"] = _("Rejected by %(body)s %(paragraph)s") % {
                "body": body,
                "paragraph": paragraph,
            }
        elif outcome != Decision.Outcome.APPROVED:
            self.agreement["stage"] = Stage.DRAFTING.value
            self.agreement["review_round"] += 1
        elif approved_now == {Party.REGION.value, Party.MUNICIPALITY.value}:
            self.agreement["stage"] = Stage.SIGNING.value
        if self.agreement["stage"] != Stage.APPROVAL.value:  # as decision_record: a first approval saves nothing
            self._save_agreement(ctx)
        done = self._complete(step, person)
        step_ctx = self._ctx(person, task=done)
        join = self._join("approval_done", done)
        if self.agreement["stage"] == Stage.APPROVAL.value:
            return  # the other party has yet to decide
        if other in self.open:  # a decision other than "approved" cancels the other branch
            cancelled = self.open.pop(other)
            cancelled["status"] = "CANCELED"
            cancelled["finished"] = self.clock.tick()
        self._done(join)
        switch = self._gateway("after_approval", join)
        stage = self.agreement["stage"]
        if stage == Stage.SIGNING.value:
            split = self._gateway("signing", switch)
            self._human("sign_region", previous=[split], token=f"start/{split['id']}_1", ctx=step_ctx)
            self._human("sign_municipality", previous=[split], token=f"start/{split['id']}_2", ctx=step_ctx)
        elif stage == Stage.DRAFTING.value:
            self._human("draft", previous=[switch], ctx=step_ctx)
        else:
            end = self._task("rejected", previous=[switch], status="DONE")
            end["started"] = self.clock.tick()
            end["finished"] = self.clock.tick()
            self._finish_process("DONE")

    def _join(self, name, arrived):
        join = self.open.get(name)
        if join is None:
            join = self._task(name, previous=[arrived], status="STARTED")
            join["started"] = self.clock.tick()
            self.open[name] = join
        else:
            join["_previous"].append(arrived["id"])
        return join

    def sign(self, at, party):
        self.clock.set(at)
        party = Party(party)
        region = party == Party.REGION
        person = self.coordinator if region else self.head
        step = "sign_region" if region else "sign_municipality"
        task = self.open[step]
        ctx = self._ctx(person, reason=_("%(party)s signature recorded") % {"party": party.label}, task=task)
        signature = {
            "id": self.out.id("signature"),
            "agreement_id": self.agreement["id"],
            "party": party.value,
            "signatory_name": person.name,
            "signatory_title": person.title,
            "signed_on": _local_date(at),
            "signed_copy_id": None,
            "recorded_by_id": person.id,
            "recorded_at": self.clock.tick(),
        }
        self.out.row("signature", signature)
        self.out.history("signature", signature, htype="+", at=self.clock.tick(), **ctx)
        self.signatures.append(signature)
        if {s["party"] for s in self.signatures} == {Party.REGION.value, Party.MUNICIPALITY.value}:
            self.agreement["stage"] = Stage.IN_FORCE.value
            self.agreement["in_force_since"] = max(s["signed_on"] for s in self.signatures)
            self._save_agreement(ctx)  # as signature_record: a first signature saves nothing
        done = self._complete(step, person)
        join = self._join("signed", done)
        if self.agreement["stage"] == Stage.IN_FORCE.value:
            self._done(join)
            self._after_follow_up(join)

    # -- living agreements ---------------------------------------------------------

    def follow_up_years(self):
        """The years whose follow-up falls on or after the day it came into force (next_follow_up_year)."""
        start = self.agreement["in_force_since"]
        return [
            y
            for y in range(self.period.starts_on.year, self.period.ends_on.year + 1)
            if start <= follow_up_date(y) and self.period.contains(follow_up_date(y))
        ]

    def _after_follow_up(self, previous):
        gate = self._gateway("follow_up_pending", previous)
        remaining = [y for y in self.follow_up_years() if y not in self.years_done]
        if remaining:
            self._timer("follow_up_due", gate, _start_of(follow_up_date(remaining[0])))
        else:
            self._timer("period_end", gate, _start_of(self.period.ends_on + DAY))

    def fire_follow_up(self, year):
        """The timer of ``year``'s follow-up date fires (manage.py workflow_timers)."""
        timer = self.open.pop("follow_up_due")
        self.clock.set(timer["scheduled"] + datetime.timedelta(seconds=self.rng.randint(5, 300)))
        self._done(timer)
        function = self._task("open_follow_up", previous=[timer], status="DONE")
        function["started"] = self.clock.tick()
        ctx = self._ctx(None, reason=_("Follow-up %(year)s opened") % {"year": year})
        self.follow_up = {
            "id": self.out.id("follow_up"),
            "agreement_id": self.agreement["id"],
            "year": year,
            "status": FollowUp.Status.OPEN.value,
            "opened_at": self.clock.tick(),
            "submitted_by_id": None,
            "submitted_at": None,
            "reviewed_by_id": None,
            "reviewed_at": None,
            "review_comment": "",
        }
        self.out.history("follow_up", self.follow_up, htype="+", at=self.clock.tick(), **ctx)
        self.entries = []
        for area in self.areas:
            entry = {
                "id": self.out.id("entry"),
                "follow_up_id": self.follow_up["id"],
                "area_id": area["id"],
                "progress": FollowUpEntry.Progress.NOT_STARTED.value,
                "narrative": "",
            }
            self.entries.append(entry)
            self.out.history("entry", entry, htype="+", at=self.clock.tick(), **ctx)
        function["finished"] = self.clock.tick()
        self._human("write_follow_up", previous=[function], ctx=self._ctx(None))
        self.follow_ups.append(self.follow_up)
        self.all_entries.extend(self.entries)

    def write_follow_up(self, at, *, submit=True, person=None, narrative=None):
        self.clock.set(at)
        person = person or self.head
        task = self.open["write_follow_up"]
        year = self.follow_up["year"]
        reason = (_("Follow-up %(year)s handed in") if submit else _("Follow-up %(year)s saved")) % {"year": year}
        ctx = self._ctx(person, reason=reason, task=task)
        for entry in self.entries:
            if narrative is None:
                progress, text = (
                    self.rng.choice(["on_track", "delayed", "done", "on_track"]),
                    self.rng.choice(NARRATIVES),
                )
            else:
                progress, text = "on_track", narrative
            if (entry["progress"], entry["narrative"]) != (progress, text):
                entry["progress"], entry["narrative"] = progress, text
                self.out.history("entry", entry, htype="~", at=self.clock.tick(), **ctx)
        if not submit:
            return
        self.follow_up.update(
            status=FollowUp.Status.SUBMITTED.value, submitted_by_id=person.id, submitted_at=self.clock.tick()
        )
        self.out.history("follow_up", self.follow_up, htype="~", at=self.clock.tick(), **ctx)
        done = self._complete("write_follow_up", person)
        self._human("review_follow_up", previous=[done], ctx=self._ctx(person, task=done))

    def review_follow_up(self, at, *, accept=True):
        self.clock.set(at)
        coordinator = self.coordinator
        task = self.open["review_follow_up"]
        year = self.follow_up["year"]
        reason = (_("Follow-up %(year)s accepted") if accept else _("Follow-up %(year)s returned for completion")) % {
            "year": year
        }
        ctx = self._ctx(coordinator, reason=reason, task=task)
        self.follow_up.update(
            status=(FollowUp.Status.ACCEPTED if accept else FollowUp.Status.RETURNED).value,
            reviewed_by_id=coordinator.id,
            reviewed_at=self.clock.tick(),
            review_comment="" if accept else "Beskriv gärna vad som hänt under året.",
        )
        self.out.history("follow_up", self.follow_up, htype="~", at=self.clock.tick(), **ctx)
        done = self._complete("review_follow_up", coordinator)
        gate = self._gateway("after_follow_up_review", done)
        if accept:
            self.years_done.add(year)
            self._after_follow_up(gate)
        else:
            self._human("write_follow_up", previous=[gate], ctx=self._ctx(coordinator, task=done))

    def close(self):
        """The period-end timer fires and the agreement closes (agreement_close)."""
        timer = self.open.pop("period_end")
        self.clock.set(timer["scheduled"] + datetime.timedelta(seconds=self.rng.randint(5, 300)))
        self._done(timer)
        function = self._task("close", previous=[timer], status="DONE")
        function["started"] = self.clock.tick()
        ctx = self._ctx(None, reason=_("Agreement closed at the end of the plan period"))
        self.agreement["stage"] = Stage.CLOSED.value
        self.agreement["ended_at"] = self.clock.tick()
        self.agreement["end_reason"] = _("The plan period %(period)s has ended.") % {"period": self.period.name}
        self._save_agreement(ctx)
        function["finished"] = self.clock.tick()
        end = self._task("closed", previous=[function], status="DONE")
        end["started"] = self.clock.tick()
        end["finished"] = self.clock.tick()
        self._finish_process("DONE")

    def withdraw(self, at, reason=None):
        self.clock.set(at)
        text = reason or self.rng.choice(WITHDRAW_REASONS)
        ctx = self._ctx(self.coordinator, reason=_("Agreement withdrawn: %(reason)s") % {"reason": text})
        self.agreement["stage"] = Stage.WITHDRAWN.value
        self.agreement["ended_at"] = self.clock.tick()
        self.agreement["end_reason"] = text
        self._save_agreement(ctx)
        for task in list(self.open.values()):  # the process is cancelled with its open tasks
            task["status"] = "CANCELED"
            task["finished"] = self.clock.tick()
        self.open.clear()
        self._finish_process("CANCELED")

    def _finish_process(self, status):
        self.process["status"] = status
        self.process["finished"] = self.clock.tick()

    # -- the end -------------------------------------------------------------------

    def write(self):
        """Write the rows that hold the final state: agreement, areas, links,
        follow-ups, entries, process and tasks."""
        out = self.out
        out.row("agreement", self.agreement)
        for area in self.areas:
            out.row("area", area)
            for through, priority in self.links[area["id"]]:
                out.row(
                    "area_priority", {"id": through, "collaborationarea_id": area["id"], "planpriority_id": priority}
                )
        for follow_up in self.follow_ups:
            out.row("follow_up", follow_up)
        for entry in self.all_entries:
            out.row("entry", entry)
        out.row("process", self.process)
        out.row("agreement_process", {"process_ptr_id": self.process["id"], "agreement_id": self.agreement["id"]})
        for task in self.tasks:
            out.row("task", task)
            for previous in task["_previous"]:
                out.row(
                    "task_previous", {"id": out.id("task_previous"), "from_task_id": task["id"], "to_task_id": previous}
                )
        self.agreement["_areas"] = self.areas
        return self.agreement


# ---------------------------------------------------------------------------
# Scenarios: which agreements to write, and when each step happens
# ---------------------------------------------------------------------------

# Attempts that end before the agreement that stays (one live agreement per municipality and period).
FAILED_KINDS = [
    ("withdrawn_drafting", 30),
    ("withdrawn_review", 14),
    ("withdrawn_after_changes", 10),
    ("withdrawn_approval", 8),
    ("withdrawn_signing", 4),
    ("returned_then_withdrawn", 6),
    ("rejected_region", 5),
    ("rejected_municipality", 5),
]
NEEDS_DECISIONS = {"withdrawn_signing", "returned_then_withdrawn", "rejected_region", "rejected_municipality"}
# The live agreement of the current period, by where it stands today.
CURRENT_FINAL = [
    ("in_force", 78),
    ("in_force_late", 5),
    ("signing", 4),
    ("approval", 4),
    ("review", 3),
    ("drafting", 2),
    (None, 4),
]
FUTURE_FINAL = [("drafting", 40), ("review", 30), ("approval", 20), (None, 10)]


def _pick(rng, weighted):
    total = sum(w for _k, w in weighted)
    point = rng.uniform(0, total)
    for kind, weight in weighted:
        point -= weight
        if point <= 0:
            return kind
    return weighted[-1][0]


@dataclass
class Spec:
    """One agreement to write: where, which scenario, and its time window."""

    municipality: Organisation
    period: PlanPeriod
    kind: str
    start: datetime.datetime
    end: datetime.datetime  # all its steps happen before this moment
    renew: bool = False


@dataclass
class Generator:
    reference: Reference
    out: Output
    now: datetime.datetime
    seed: int = 1
    nodes: Nodes = field(default_factory=Nodes)
    kinds: Counter = field(default_factory=Counter)

    def __post_init__(self):
        self.priority_titles = {
            p.pk: p.title for by_code in self.reference.priorities.values() for p in by_code.values()
        }
        self.finals = {}  # (municipality id, period id) -> agreement state of the live agreement

    def priority(self, period, code):
        return self.reference.priorities.get(period.pk, {}).get(code)

    def people(self, municipality, rng):
        region = self.reference.region_of[municipality.pk]
        return (
            rng.choice(self.reference.coordinators[region.pk]),
            self.reference.heads[municipality.pk],
            self.reference.officials[municipality.pk],
        )

    def write(self, spec: Spec):
        rng = random.Random(f"{self.seed}:{spec.municipality.pk}:{spec.period.pk}:{spec.start.isoformat()}")
        coordinator, head, official = self.people(spec.municipality, rng)
        predecessor = None
        if spec.renew:
            previous = [p for p in self.reference.periods if p.ends_on < spec.period.starts_on]
            if previous:
                predecessor = self.finals.get((spec.municipality.pk, previous[-1].pk))
        story = Story(
            self,
            municipality=spec.municipality,
            period=spec.period,
            coordinator=coordinator,
            head=head,
            official=official,
            opened_at=spec.start,
            rng=rng,
            predecessor=predecessor,
        )
        SCENARIOS[spec.kind](self, story, spec, rng)
        agreement = story.write()
        if agreement["stage"] not in (Stage.WITHDRAWN.value, Stage.REJECTED.value):
            self.finals[(spec.municipality.pk, spec.period.pk)] = agreement
        self.kinds[spec.kind] += 1
        return story


def _times(start, end, n):
    """n moments spread over [start, end], in order."""
    span = (end - start) / (n + 1)
    return [start + span * (i + 1) for i in range(n)]


def _draft_and_submit(story, rng, t_save, t_submit):
    if not story.areas:
        story.save_draft(t_save, new_areas=rng.randint(1, 4), edits=rng.randint(0, 3))
    else:
        story.save_draft(t_save, edits=rng.randint(1, 2))
    story.submit(t_submit)


def _to_approval(story, rng, times):
    """Draft, send, accept: times[0:3]."""
    _draft_and_submit(story, rng, times[0], times[1])
    story.review(times[2], accept=True, comment="Bra förslag." if rng.random() < 0.2 else "")


def _both_decide(story, rng, t1, t2):
    order = [Party.REGION, Party.MUNICIPALITY]
    rng.shuffle(order)
    story.decide(t1, order[0])
    story.decide(t2, order[1])


def _both_sign(story, rng, t1, t2):
    order = [Party.REGION, Party.MUNICIPALITY]
    rng.shuffle(order)
    story.sign(t1, order[0])
    story.sign(t2, order[1])


def s_withdrawn_drafting(gen, story, spec, rng):
    story.open_agreement()
    t = _times(spec.start, spec.end, 2)
    if rng.random() < 0.7:
        story.save_draft(t[0], new_areas=rng.randint(1, 3), edits=rng.randint(0, 2))
    story.withdraw(t[1])


def s_withdrawn_review(gen, story, spec, rng):
    story.open_agreement()
    t = _times(spec.start, spec.end, 3)
    _draft_and_submit(story, rng, t[0], t[1])
    story.withdraw(t[2])


def s_withdrawn_after_changes(gen, story, spec, rng):
    story.open_agreement()
    t = _times(spec.start, spec.end, 5)
    _draft_and_submit(story, rng, t[0], t[1])
    story.review(t[2], accept=False)
    story.save_draft(t[3], edits=1)
    story.withdraw(t[4])


def s_withdrawn_approval(gen, story, spec, rng):
    story.open_agreement()
    decided = spec.start.date() >= spec.period.starts_on and rng.random() < 0.5
    t = _times(spec.start, spec.end, 5)
    _to_approval(story, rng, t)
    if decided and _local_date(t[3]) >= spec.period.starts_on:
        story.decide(t[3], rng.choice([Party.REGION, Party.MUNICIPALITY]))
    story.withdraw(t[4])


def s_withdrawn_signing(gen, story, spec, rng):
    story.open_agreement()
    t = _times(spec.start, spec.end, 7)
    _to_approval(story, rng, t)
    _both_decide(story, rng, t[3], t[4])
    if rng.random() < 0.5:
        story.sign(t[5], rng.choice([Party.REGION, Party.MUNICIPALITY]))
    story.withdraw(t[6])


def s_returned_then_withdrawn(gen, story, spec, rng):
    story.open_agreement()
    t = _times(spec.start, spec.end, 6)
    _to_approval(story, rng, t)
    story.decide(t[3], rng.choice([Party.REGION, Party.MUNICIPALITY]), outcome=Decision.Outcome.RETURNED)
    story.save_draft(t[4], edits=1)
    story.withdraw(t[5])


def _rejected(party):
    def scenario(gen, story, spec, rng):
        story.open_agreement()
        t = _times(spec.start, spec.end, 5)
        _to_approval(story, rng, t)
        other = Party.MUNICIPALITY if party == Party.REGION else Party.REGION
        if rng.random() < 0.4:
            story.decide(t[3], other)
        story.decide(t[4], party, outcome=Decision.Outcome.REJECTED, ends=True)

    return scenario


def _final_until(stage):
    """The live agreement, driven up to ``stage`` within its window."""

    def scenario(gen, story, spec, rng):
        story.open_agreement()
        if stage == "drafting":
            if rng.random() < 0.7 or story.areas:
                story.save_draft(_times(spec.start, spec.end, 1)[0], new_areas=0 if story.areas else rng.randint(1, 4))
            return
        if stage == "review":
            t = _times(spec.start, spec.end, 2)
            _draft_and_submit(story, rng, t[0], t[1])
            return
        t = _times(spec.start, spec.end, 6)
        if stage == "review_round_2":
            _draft_and_submit(story, rng, t[0], t[1])
            story.review(t[2], accept=False)
            story.save_draft(t[3], edits=1)
            story.submit(t[4])
            return
        _to_approval(story, rng, t)
        if stage == "awaiting_decisions":
            return
        if stage == "approval":
            if _local_date(t[3]) >= spec.period.starts_on and rng.random() < 0.5:
                story.decide(t[3], rng.choice([Party.REGION, Party.MUNICIPALITY]))
            return
        _both_decide(story, rng, t[3], t[4])
        if stage == "signing" and rng.random() < 0.5:
            story.sign(t[5], rng.choice([Party.REGION, Party.MUNICIPALITY]))

    return scenario


def _in_force(*, closed):
    """Signed within the window; the yearly follow-ups that have come, each
    written and reviewed (one in five returned once); closed at the period's end
    when that has passed. The current year's follow-up may be left open."""

    def scenario(gen, story, spec, rng):
        story.open_agreement()
        t = _times(spec.start, spec.end, 7)
        if rng.random() < 0.15 and not story.predecessor:  # a round of changes first
            _draft_and_submit(story, rng, t[0], t[0] + (t[1] - t[0]) / 3)
            story.review(t[0] + (t[1] - t[0]) * 2 / 3, accept=False)
            story.submit(t[1])
            story.review(t[2], accept=True)
        else:
            _to_approval(story, rng, t)
        _both_decide(story, rng, t[3], t[4])
        _both_sign(story, rng, t[5], t[6])
        for year in story.follow_up_years():
            opens = _start_of(follow_up_date(year))
            if opens >= gen.now:
                break
            story.fire_follow_up(year)
            written = opens + datetime.timedelta(days=rng.randint(5, 40), hours=rng.randint(0, 8))
            person = story.head if rng.random() < 0.7 else story.official
            if written >= gen.now:  # this year's follow-up is still being written
                if rng.random() < 0.5:
                    story.write_follow_up(opens + (gen.now - opens) / 2, submit=False, person=person)
                break
            story.write_follow_up(written, person=person)
            reviewed = written + datetime.timedelta(days=rng.randint(2, 20))
            if reviewed >= gen.now:
                break
            if rng.random() < 0.2:
                story.review_follow_up(reviewed, accept=False)
                rewritten = reviewed + datetime.timedelta(days=rng.randint(2, 10))
                if rewritten >= gen.now:
                    break
                story.write_follow_up(rewritten, person=person)
                reviewed = rewritten + datetime.timedelta(days=rng.randint(1, 7))
                if reviewed >= gen.now:
                    break
            story.review_follow_up(reviewed, accept=True)
        if closed and "period_end" in story.open and story.open["period_end"]["scheduled"] < gen.now:
            story.close()

    return scenario


SCENARIOS = {
    "withdrawn_drafting": s_withdrawn_drafting,
    "withdrawn_review": s_withdrawn_review,
    "withdrawn_after_changes": s_withdrawn_after_changes,
    "withdrawn_approval": s_withdrawn_approval,
    "withdrawn_signing": s_withdrawn_signing,
    "returned_then_withdrawn": s_returned_then_withdrawn,
    "rejected_region": _rejected(Party.REGION),
    "rejected_municipality": _rejected(Party.MUNICIPALITY),
    "drafting": _final_until("drafting"),
    "review": _final_until("review"),
    "review_round_2": _final_until("review_round_2"),
    "approval": _final_until("approval"),
    "awaiting_decisions": _final_until("awaiting_decisions"),  # accepted in review, neither party has decided
    "signing": _final_until("signing"),
    "in_force": _in_force(closed=False),
    "in_force_late": _in_force(closed=False),
    "closed": _in_force(closed=True),
}


def _at(day, hour=9):
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)), _zone())


def plan(reference: Reference, *, agreements: int, now, seed=1):
    """The specs of ``agreements`` agreements over every municipality and plan
    period, in time order: per municipality and period, attempts that were
    withdrawn or rejected, then the agreement that stays (closed in past
    periods; at any stage in the current one; being drafted for the next).
    One live agreement per municipality and period, as the database demands."""
    rng = random.Random(seed)
    today = _local_date(now)
    slots = [(m, p) for p in reference.periods for m in reference.municipalities]
    finals = {}
    for municipality, period in slots:
        if period.ends_on < today:
            kind = "closed" if rng.random() < 0.96 else None
        elif period.starts_on <= today:
            kind = _pick(rng, CURRENT_FINAL)
        else:
            kind = _pick(rng, FUTURE_FINAL)
        finals[(municipality.pk, period.pk)] = kind
    final_count = sum(1 for k in finals.values() if k)
    if final_count > agreements:  # a small run: keep a random subset of the live agreements
        keep = set(rng.sample([key for key, k in finals.items() if k], agreements))
        finals = {key: (k if key in keep else None) for key, k in finals.items()}
        final_count = agreements
    failed_total = agreements - final_count
    per_slot = Counter()
    for _n in range(failed_total):
        per_slot[rng.randrange(len(slots))] += 1

    specs = []
    for index, (municipality, period) in enumerate(slots):
        kind = finals[(municipality.pk, period.pk)]
        failed = per_slot[index]
        if not kind and not failed:
            continue
        final_start, final_end = _final_window(kind, period, today, rng)
        window_start = _at(period.starts_on - datetime.timedelta(days=400))
        window_end = final_start - datetime.timedelta(days=2) if kind else min(_at(period.ends_on), now - DAY * 3)
        window_end = min(window_end, now - DAY * 3)
        if failed:
            span = (window_end - window_start) / failed
            for n in range(failed):
                start = window_start + span * n
                end = start + span * 0.9
                failed_kind = _pick(rng, FAILED_KINDS)
                if failed_kind in NEEDS_DECISIONS and (_local_date(start) < period.starts_on or end > now - DAY):
                    failed_kind = rng.choice(["withdrawn_drafting", "withdrawn_review", "withdrawn_after_changes"])
                specs.append(Spec(municipality, period, failed_kind, start, end))
        if kind:
            renew = kind in ("closed", "in_force", "in_force_late") and rng.random() < 0.5
            if kind == "review" and rng.random() < 0.3:
                kind = "review_round_2"
            specs.append(Spec(municipality, period, kind, final_start, final_end, renew=renew))
    specs.sort(key=lambda s: s.start)
    return specs


def _final_window(kind, period, today, rng):
    """When the agreement that stays is opened and (for those signed) signed."""
    if kind is None:
        return None, None
    if kind == "closed" or kind == "in_force":
        opened = period.starts_on + datetime.timedelta(days=rng.randint(20, 420))
        signed = opened + datetime.timedelta(days=rng.randint(45, 120))
        return _at(opened), _at(signed, 15)
    if kind == "in_force_late":
        signed = today - datetime.timedelta(days=rng.randint(3, 40))
        return _at(signed - datetime.timedelta(days=rng.randint(45, 90))), _at(signed, 8)
    # Still under way: opened in the last half year, steps until a few days ago.
    opened = today - datetime.timedelta(days=rng.randint(20, 180))
    if period.starts_on > today:
        opened = max(opened, today - datetime.timedelta(days=200))
    return _at(opened), _at(today - datetime.timedelta(days=2), 8)


# ---------------------------------------------------------------------------
# Putting it together
# ---------------------------------------------------------------------------


@dataclass
class Result:
    agreements: int
    counts: dict
    kinds: Counter
    seconds: dict

    @property
    def history_rows(self):
        return sum(v for k, v in self.counts.items() if "historical" in k)


def write_specs(reference, specs, *, now=None, seed=1, parallel=False, batch=10_000, log=print) -> Result:
    """Write the agreements of ``specs`` (in order) and load them, a batch at a
    time: with ``parallel``, each batch is loaded over two other connections
    while the next one is written; without, everything goes into the caller's
    transaction."""
    now = now or timezone.now()
    seconds = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="samverkan-load-") as spool_dir:
        out = Output(spool_dir)
        gen = Generator(reference=reference, out=out, now=now, seed=seed)
        loader = Loader(workers=2 if parallel else 0)
        try:
            with translation.override("sv"):
                for n, spec in enumerate(specs, start=1):
                    gen.write(spec)
                    if n % batch == 0 or n == len(specs):
                        loader.submit(out.spools())
                        if parallel:
                            log(f"  {n:,} agreements written ({time.perf_counter() - started:.0f} s)")
            seconds["generate"] = time.perf_counter() - started
            loader.finish()
        finally:
            out.close()
        seconds["load"] = time.perf_counter() - started - seconds["generate"]
        counts = out.counts()
        history = sum(counts[out.tables[k].name] for k in out.history_keys())
        log(
            f"  written in {seconds['generate']:.1f} s, loaded {seconds['load']:.1f} s later: "
            f"{sum(counts.values()):,} rows, of which {history:,} history rows, each hash-chained by the database"
        )
        out.fix_sequences()
        return Result(agreements=len(specs), counts=counts, kinds=gen.kinds, seconds=seconds)


def generate(*, agreements=100_000, municipalities=290, seed=1, parallel=True, log=print) -> Result:
    """The whole load: reference data, then ``agreements`` agreements."""
    started = time.perf_counter()
    now = timezone.now()
    reference = ensure_reference(municipalities=municipalities, seed=seed, log=log)
    reference_seconds = time.perf_counter() - started
    log(f"  reference data in {reference_seconds:.1f} s")
    specs = plan(reference, agreements=agreements, now=now, seed=seed)
    result = write_specs(reference, specs, now=now, seed=seed, parallel=parallel, log=log)
    result.seconds["reference"] = reference_seconds
    return result
