"""Templates: a scenario run once through the real services, its rows
captured, and cloned in bulk.

Recording
---------
``Recording`` is a transaction that is always rolled back. In it, stand-ins
are created through the services (a region, two municipalities, a
coordinator, their cultural heads and officials, and a copy of each plan
period with its priorities): the ``Scaffold``. Each scenario then runs in a
savepoint as those stand-ins (``scenarios.Driver``); every row it wrote, in
every table, is read back (the rows whose id is above the table's highest id
before it ran) and the savepoint is rolled back. Nothing a scenario writes
is known here: domain rows, viewflow processes, tasks and their links, due
dates, history rows, many-to-many history, permissions, whatever the services
write today is captured and cloned.

How a clone knows what to change
--------------------------------
During a recording every table's ids come from a range of its own, far above
any real id (``IdRanges``): table number i gets ids from BASE + i × SPAN. An
integer in a captured row, a JSON document or a text (viewflow's tokens, e.g.
``start/100000340_1``, or a task's ``owner_permission_obj_pk``) that falls in
a range is therefore an id of that table, whichever column holds it, and
nothing else is: the data's own numbers (rounds, years, positions) are far
below BASE. Each such id is either a row of the template (given a new id in
the clone, same offset), a row of the template it continues (a renewal refers
to its predecessor's agreement and areas: mapped as that template's clone
was), or a stand-in (mapped to the clone's municipality, people and period).
Texts name the stand-ins (the municipality in a title, the coordinator in a
contact line, a period in an end reason, an address in ``history_ip``) and
case numbers (an agreement's own, or its predecessor's in the reason "copied
from …"); those strings are replaced. Every date and timestamp moves by the
clone's shift, in JSON too. Case numbers are renumbered with the format the
service itself writes (``CaseNumbers`` asks ``next_case_number``).
"""

import datetime
import random
import re
from dataclasses import dataclass, field

from django.apps import apps
from django.db import connection, models, transaction
from django.utils import timezone

from accounts import services as account_services
from accounts.history import audit_context
from accounts.models import Organisation, Role
from cases.agreements.services import next_case_number
from cases.audit.tables import HASH_FIELD_NAMES
from cases.models import Agreement, CaseNumberSequence, PlanPeriod, PlanPriority
from storage.models import StoredFile, StoredFileChunk

from .reference import REASON, TITLES
from .scenarios import Actor, Clock, Driver, NotPossible, local_date

BASE = 100_000_000
SPAN = 10_000_000
# Tables that are never cloned: Django's own bookkeeping, and the case-number
# counter (clones are numbered by CaseNumbers, and the counters set once at the end).
NOT_CLONED = {
    "django_migrations",
    "django_content_type",
    "auth_permission",
    "django_session",
    CaseNumberSequence._meta.db_table,
}
# The content-addressed file store: a file is stored once per content (its SHA-256
# is unique), and records name it by that hash ("sha256/<hex>"), not by an id. A
# template's files (the decision material frozen at approval) go in with its first
# clone only; every clone's records name the same stored bytes, as the storage does.
ONCE_PER_CONTENT = {StoredFile._meta.db_table, StoredFileChunk._meta.db_table}
ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])[1-9][0-9]{8}(?![0-9A-Za-z])")
ISO_IN_JSON = re.compile(
    r'(?<=")(\d{4}-\d{2}-\d{2})(?:([T ])(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:?\d{2})?)?(?=")'
)


def keep_history_times(cursor=None, *, local=None):
    """Ask the audit chain to keep the history times we give (the load's are
    simulated) instead of taking the database clock: it lets only a superuser's
    session do so. ``local``: for the current transaction only (default: when
    Django's connection is in one, as in tests), else for the session."""
    if local is None:
        local = connection.in_atomic_block
    statement = "SELECT set_config('samverkan.audit_keep_time', 'on', %s)"
    if cursor is not None:
        cursor.execute(statement, [local])
        return
    with connection.cursor() as own:
        own.execute(statement, [local])


# ---------------------------------------------------------------------------
# Tables and id ranges
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    name: str
    pk: str
    sequence: str | None


_tables = None


def all_tables():
    """Every table of every installed model (through tables and history tables
    included) that a scenario could write, with its sequence."""
    global _tables
    if _tables is None:
        found = {}
        for model in apps.get_models(include_auto_created=True):
            meta = model._meta
            if meta.proxy or not meta.managed or meta.db_table in NOT_CLONED:
                continue
            if not isinstance(
                meta.pk, models.AutoField | models.BigAutoField | models.IntegerField | models.OneToOneField
            ):
                continue
            found[meta.db_table] = meta.pk.column
        with connection.cursor() as cursor:
            names = sorted(found)
            cursor.execute(
                "SELECT t, pg_get_serial_sequence(t, c) FROM unnest(%s::text[], %s::text[]) AS u(t, c)",
                [names, [found[n] for n in names]],
            )
            _tables = [Table(name, found[name], sequence) for name, sequence in cursor.fetchall()]
    return _tables


def table_maxima(cursor, tables=None):
    """{table: highest id (0 when empty)}, in one query."""
    tables = tables or all_tables()
    sql = " UNION ALL ".join(
        f"SELECT {i}, coalesce(max({_q(t.pk)}), 0) FROM {_q(t.name)}"  # noqa: S608 (model metadata)
        for i, t in enumerate(tables)
    )
    cursor.execute(sql)
    return {tables[i].name: value for i, value in cursor.fetchall()}


def _stored_columns(cursor, table):
    """The table's columns that take a value, in order: not the generated ones
    (the search documents of cases/0013, which PostgreSQL computes and COPY
    may not be given)."""
    cursor.execute(
        "SELECT attname FROM pg_catalog.pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
        " AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
        [_q(table)],
    )
    return [name for (name,) in cursor.fetchall()]


def _q(name):
    return '"' + name.replace('"', '""') + '"'


class IdRanges:
    """During a recording, table number i hands out ids from BASE + i × SPAN."""

    def __init__(self):
        self.tables = [t for t in all_tables() if t.sequence]
        self.names = [t.name for t in self.tables]
        self.end = BASE + len(self.tables) * SPAN
        if self.end > 2**31 - 1:
            raise RuntimeError("Too many tables for the id ranges of the recordings.")

    def table_of(self, value):
        if BASE <= value < self.end:
            return self.names[(value - BASE) // SPAN]
        return None

    def install(self, cursor):
        highest = table_maxima(cursor, self.tables)
        too_high = [name for name, value in highest.items() if value >= BASE]
        if too_high:
            raise RuntimeError(f"Ids at or above {BASE:,} in {', '.join(too_high)}: the recordings need them free.")
        cursor.execute(
            "SELECT " + ", ".join(f"setval(%s, {BASE + i * SPAN}, false)" for i in range(len(self.tables))),
            [t.sequence for t in self.tables],
        )

    @staticmethod
    def reset(cursor, tables=None):
        """Each sequence back to its table's highest id (after a recording, and after a load)."""
        tables = [t for t in (tables or all_tables()) if t.sequence]
        highest = table_maxima(cursor, tables)
        cursor.execute(
            "SELECT " + ", ".join("setval(%s, greatest(%s, 1), %s)" for _t in tables),
            [value for t in tables for value in (t.sequence, highest[t.name], highest[t.name] > 0)],
        )


# ---------------------------------------------------------------------------
# The stand-ins
# ---------------------------------------------------------------------------

TOWNS = {"alfa": ("Mallkommun Alfa", "9991"), "beta": ("Mallkommun Beta", "9992")}


class Scaffold:
    """Stand-ins, made through the services in the recording transaction: what a
    template's references to people, municipality and period are mapped from."""

    def __init__(self, periods):
        self.by_id = {}  # stand-in id -> (kind, role or code)
        self.strings = {}  # a stand-in's text (name, address) -> (kind, stand-in id)
        self.periods = {}  # real period id -> stand-in period
        self.period_of_priority = {}  # stand-in priority id -> (stand-in period id, code)
        with audit_context(reason=REASON):
            region = self._org(Organisation(kind=Organisation.Kind.REGION, name="Mallregion", kommunkod=""), "region")
            self.towns = {
                key: self._org(
                    Organisation(kind=Organisation.Kind.MUNICIPALITY, name=name, kommunkod=code), "municipality"
                )
                for key, (name, code) in TOWNS.items()
            }
            for period in periods:
                self.mirror(period)
        self.coordinator = self._person("Malla Samordnarsson", Role.COORDINATOR, region, "coordinator", 1)
        self.people = {
            key: {
                "head": self._person(f"{key.title()} Kulturchefsson", Role.CULTURAL_HEAD, town, "head", 2 + 2 * n),
                "official": self._person(f"{key.title()} Tjänstemansson", Role.OFFICIAL, town, "official", 3 + 2 * n),
            }
            for n, (key, town) in enumerate(self.towns.items())
        }

    def _org(self, org, role):
        org.full_clean()
        org.save()
        self.by_id[org.pk] = ("org", role)
        self.strings[org.name] = ("org.name", org.pk)
        return org

    def _person(self, name, role, organisation, key, n):
        user = account_services.user_create(
            actor=None, email=f"{key}{n}@mall.invalid", full_name=name, title=TITLES[role], reason=REASON
        )
        account_services.membership_create(actor=None, user=user, organisation=organisation, role=role, reason=REASON)
        ip = f"192.0.2.{n}"  # TEST-NET-1: never a real client
        self.by_id[user.pk] = ("user", key)
        self.strings[name] = ("user.name", user.pk)
        self.strings[ip] = ("user.ip", user.pk)
        return Actor(user=user, ip=ip)

    def mirror(self, period):
        """The stand-in of ``period``: same dates and priorities, open for agreements."""
        if period.pk in self.periods:
            return self.periods[period.pk]
        with audit_context(reason=REASON):
            copy = PlanPeriod(
                name=f"Mall {period.name}", starts_on=period.starts_on, ends_on=period.ends_on, is_active=True
            )
            copy.full_clean()
            copy.save()
            for priority in period.priorities.all():
                PlanPriority(plan_period=copy, code=priority.code, title=priority.title).save()
        self.periods[period.pk] = copy
        self.by_id[copy.pk] = ("period", copy.pk)
        self.strings[copy.name] = ("period.name", copy.pk)
        for priority in copy.priorities.all():
            self.by_id[priority.pk] = ("priority", priority.pk)
            self.period_of_priority[priority.pk] = (copy.pk, priority.code)
            # A revision names its areas' priorities by title; the same code may have another title elsewhere.
            self.strings[priority.title] = ("priority.title", priority.pk)
        return copy

    def driver(self, clock, town, period, rng):
        people = self.people[town]
        return Driver(
            clock,
            coordinator=self.coordinator,
            head=people["head"],
            official=people["official"],
            municipality=self.towns[town],
            period=self.mirror(period),
            rng=rng,
        )


# ---------------------------------------------------------------------------
# Case numbers, as the service writes them
# ---------------------------------------------------------------------------


class CaseNumbers:
    """Case numbers for clones, in the format ``cases.services.next_case_number``
    writes: learnt by calling it (in a savepoint that is rolled back) with the
    year's counter at 0 and at 99,999,998. The counters continue from the
    database's; ``save()`` stores where they ended."""

    def __init__(self):
        self.formats = {}  # year -> (prefix, width, counter row prefix)
        self.last = {}  # year -> last number used

    def _learn(self, year):
        if year in self.formats:
            return self.formats[year]
        with transaction.atomic():
            before = dict(CaseNumberSequence.objects.filter(year=year).values_list("prefix", "last_number"))
            next_case_number(year=year)  # creates the year's counter if missing
            counters = CaseNumberSequence.objects.filter(year=year)
            counters.update(last_number=0)
            first = next_case_number(year=year)
            counters.update(last_number=99_999_998)
            large = next_case_number(year=year)
            row = CaseNumberSequence.objects.get(year=year, last_number=99_999_999)
            transaction.set_rollback(True)
        prefix = large[: len(large) - len("99999999")]
        if not first.startswith(prefix) or not large.endswith("99999999"):
            raise RuntimeError(f"Cannot read the case-number format from {first!r} and {large!r}.")
        self.formats[year] = (prefix, len(first) - len(prefix), row.prefix)
        self.last.setdefault(year, before.get(row.prefix, 0))
        return self.formats[year]

    def year_of(self, case_number, years):
        for year in years:
            prefix, _width, _row = self._learn(year)
            rest = case_number[len(prefix) :]
            if case_number.startswith(prefix) and rest.isdigit():
                return year
        raise RuntimeError(f"{case_number!r} is not a case number of {sorted(years)}.")

    def next(self, year):
        prefix, width, _row = self._learn(year)
        self.last[year] += 1
        return f"{prefix}{str(self.last[year]).rjust(width, '0')}"

    def save(self):
        for year, last in self.last.items():
            _prefix, _width, row_prefix = self.formats[year]
            counter, _created = CaseNumberSequence.objects.get_or_create(prefix=row_prefix, year=year)
            if counter.last_number < last:
                counter.last_number = last
                counter.save(update_fields=["last_number"])


# ---------------------------------------------------------------------------
# Recording
# ---------------------------------------------------------------------------


class Recording:
    """The rolled-back transaction in which templates are recorded."""

    def __init__(self, periods):
        self.periods = list(periods)

    def __enter__(self):
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        keep_history_times()
        self.ranges = IdRanges()
        with connection.cursor() as cursor:
            self.ranges.install(cursor)
        self.clock = Clock().__enter__()
        self.scaffold = Scaffold(self.periods)
        return self

    def __exit__(self, *exc):
        self.clock.__exit__(*exc)
        transaction.set_rollback(True)
        self._atomic.__exit__(*exc)
        with connection.cursor() as cursor:
            IdRanges.reset(cursor, self.ranges.tables)

    def record(self, kind, story, *, period, start, town="beta", seed=1, keep=False, parent=None, **kwargs):
        """Run ``story`` (a scenario of scenarios.py) as a template; None when the
        services refused one of its steps. With ``keep`` its rows stay for the
        rest of the recording (a renewal's predecessor)."""
        rng = random.Random(seed)
        driver = self.scaffold.driver(self.clock, town, period, rng)
        if parent is not None:
            kwargs["predecessor"] = parent.agreement
        with connection.cursor() as cursor:
            before = table_maxima(cursor)
        try:
            with transaction.atomic():
                story(driver, rng, start, **kwargs)
                with connection.cursor() as cursor:
                    captured = capture(cursor, before)
                if not keep:
                    transaction.set_rollback(True)
        except NotPossible:
            return None
        template = Template(kind, captured, ranges=self.ranges, scaffold=self.scaffold, parent=parent)
        template.period = driver.period.pk
        template.agreement = driver.agreement if keep else None
        return template


def capture(cursor, before):
    """{table: (columns, rows)} of the rows written since ``before`` (table maxima)."""
    after = table_maxima(cursor)
    captured = {}
    for table in all_tables():
        if after[table.name] > before[table.name]:
            columns = ", ".join(_q(c) for c in _stored_columns(cursor, table.name))
            cursor.execute(
                f"SELECT {columns} FROM {_q(table.name)} WHERE {_q(table.pk)} > %s ORDER BY {_q(table.pk)}",  # noqa: S608
                [before[table.name]],
            )
            captured[table.name] = ([c.name for c in cursor.description], cursor.fetchall())
    return captured


# ---------------------------------------------------------------------------
# A template, compiled for cloning
# ---------------------------------------------------------------------------

# What a cell of a clone is: the template's value, or computed from the clone's context.
OWN, REF, TIME, DAY, TEXT, STRING, ISO = range(7)


def _json_columns():
    found = set()
    for model in apps.get_models(include_auto_created=True):
        for f in model._meta.concrete_fields:
            if isinstance(f, models.JSONField):
                found.add((model._meta.db_table, f.column))
    return found


def _case_number_column():
    return Agreement._meta.db_table, Agreement._meta.get_field("case_number").column


def _scheduled_column():
    from viewflow.workflow.models import Task

    return Task._meta.db_table, Task._meta.get_field("scheduled").column


class Template:
    """One recorded scenario: its rows, and how to make a clone of them."""

    def __init__(self, kind, captured, *, ranges, scaffold, parent=None):
        self.kind = kind
        self.parent = parent
        self.ranges = ranges
        self.scaffold = scaffold
        self.rows = sum(len(rows) for _c, rows in captured.values())
        # The span of ids per range table: [low, high] of the ids of its rows.
        pks = {}
        pk_of = {t.name: t.pk for t in all_tables()}
        for name, (columns, rows) in captured.items():
            i = columns.index(pk_of[name])
            for row in rows:
                pks.setdefault(ranges.table_of(row[i]), []).append(row[i])
        pks.pop(None, None)
        self.low = {t: min(v) for t, v in pks.items()}
        self.sizes = {t: max(v) - min(v) + 1 for t, v in pks.items()}
        agreements, number = _case_number_column()
        self.case_numbers = []
        if agreements in captured:
            columns, rows = captured[agreements]
            self.case_numbers = [row[columns.index(number)] for row in rows]
        timers, scheduled = _scheduled_column()
        self.fixed_in_time = timers in captured and any(
            row[captured[timers][0].index(scheduled)] is not None for row in captured[timers][1]
        )
        self.external = set()  # ids of stand-ins and of the parent's rows
        self.strings = set()  # stand-in texts and case numbers
        self.days = set()
        self.seconds = [86_400, 0]
        self.start = self.end = None
        self.tables = self._compile(captured)
        self.files_stored = False  # ONCE_PER_CONTENT rows written (by the first clone)
        self._when()

    # -- compiling ----------------------------------------------------------------

    def owns(self, value):
        table = self.ranges.table_of(value)
        return table in self.low and self.low[table] <= value < self.low[table] + self.sizes[table]

    def _id(self, value):
        """How a clone gets the id ``value``: (OWN, table, offset) or (REF, value)."""
        if self.owns(value):
            table = self.ranges.table_of(value)
            return OWN, table, value - self.low[table]
        if value in self.scaffold.by_id or (self.parent is not None and self.parent.resolves(value)):
            self.external.add(value)
            return REF, value
        raise RuntimeError(f"A template refers to id {value} ({self.ranges.table_of(value)}), which it cannot map.")

    def resolves(self, value):
        return self.owns(value) or (self.parent is not None and self.parent.resolves(value))

    def _moment(self, value):
        self.start = value if self.start is None or value < self.start else self.start
        self.end = value if self.end is None or value > self.end else self.end
        local = timezone.localtime(value)
        self.days.add(local.date())
        seconds = local.hour * 3600 + local.minute * 60 + local.second
        self.seconds = [min(self.seconds[0], seconds), max(self.seconds[1], seconds)]

    def _text_pattern(self):
        keys = list(self.scaffold.strings)
        template = self
        while template is not None:
            keys += template.case_numbers
            template = template.parent
        keys.sort(key=len, reverse=True)
        return re.compile("|".join([*(re.escape(k) for k in keys), ID_IN_TEXT.pattern]))

    def _text(self, value, pattern, json):
        """The pieces a clone builds ``value`` from, or None when it stays as it is."""
        pieces, last, changed = [], 0, False
        for match in pattern.finditer(value):
            text = match.group(0)
            if text.isdigit():
                if self.ranges.table_of(int(text)) is None:
                    continue
                piece = self._id(int(text))
            else:
                self.strings.add(text)
                piece = (STRING, text)
            pieces += [value[last : match.start()], piece]
            last, changed = match.end(), True
        pieces.append(value[last:])
        if json:  # dates inside a JSON document move with the clone too
            split = []
            for piece in pieces:
                if type(piece) is not str:
                    split.append(piece)
                    continue
                end = 0
                for match in ISO_IN_JSON.finditer(piece):
                    split += [piece[end : match.start()], (ISO, match.groups())]
                    self.days.add(datetime.date.fromisoformat(match.group(1)))
                    end, changed = match.end(), True
                split.append(piece[end:])
            pieces = split
        return [p for p in pieces if p != ""] if changed else None

    def _compile(self, captured):
        """Per table: (columns, [(constant cells, [(column, how)])])."""
        json_columns = _json_columns()
        pattern = self._text_pattern()
        compiled = []
        for name, (columns, rows) in sorted(captured.items()):
            json = {i for i, c in enumerate(columns) if (name, c) in json_columns}
            # The chain's hashes are the database's to set, for the clone's own content.
            hashes = {i for i, c in enumerate(columns) if c in HASH_FIELD_NAMES}
            out = []
            for row in rows:
                cells, changes = list(row), []
                for i, value in enumerate(row):
                    if i in hashes:
                        cells[i] = ""
                        continue
                    kind = type(value)
                    if kind is int:
                        if self.ranges.table_of(value) is not None:
                            changes.append((i, self._id(value)))
                    elif kind is datetime.datetime:
                        self._moment(value)
                        changes.append((i, (TIME, value)))
                    elif kind is datetime.date:
                        self.days.add(value)
                        changes.append((i, (DAY, value)))
                    elif kind is str:
                        pieces = self._text(value, pattern, i in json)
                        if pieces is not None:
                            changes.append((i, (TEXT, pieces)))
                out.append((tuple(cells), changes))
            compiled.append((name, columns, out))
        return compiled

    # -- when a clone may be ------------------------------------------------------

    def _when(self):
        """The days the template's steps happened on (a due date after its last step
        is a forecast: it moves with a clone but does not say where one may go)."""
        last = local_date(self.end) if self.end else max(self.days)
        self.anchored = sorted(d for d in self.days if d <= last)
        self.first_day, self.last_day = self.anchored[0], self.anchored[-1]
        self.one_year = self.first_day.year == self.last_day.year

    def second_range(self):
        """How many seconds a clone may move within its days (keeping two hours from midnight)."""
        if self.fixed_in_time:
            return 0, 0
        margin = 2 * 3600
        return min(0, margin - self.seconds[0]), max(0, 86_400 - margin - self.seconds[1])

    # -- cloning ------------------------------------------------------------------

    def clone(self, out, *, ids, target, case_numbers, shift=datetime.timedelta(0), parent=None):
        """Write a clone's rows into ``out`` (a loading.Batch); returns its Clone."""
        clone = Clone(self, ids, target, case_numbers, shift, parent)
        days = _whole_days(shift)
        base, refs = clone.base, clone.refs
        for name, columns, rows in self.tables:
            if name in ONCE_PER_CONTENT and self.files_stored:
                continue
            sink = out.rows(name, columns)
            for cells, changes in rows:
                row = list(cells)
                for i, how in changes:
                    kind = how[0]
                    if kind == OWN:
                        row[i] = base[how[1]] + how[2]
                    elif kind == REF:
                        row[i] = refs[how[1]]
                    elif kind == TIME:
                        row[i] = how[1] + shift
                    elif kind == DAY:
                        row[i] = how[1] + days
                    else:
                        row[i] = clone.text(how[1], days)
                sink.append(row)
        self.files_stored = True
        return clone


def _whole_days(shift):
    """The days a shift moves a local date: whole days plus seconds that never cross midnight."""
    return datetime.timedelta(days=round(shift.total_seconds() / 86_400))


@dataclass
class Target:
    """Where a clone goes: its municipality, people and plan period."""

    municipality: Organisation
    region: Organisation
    coordinator: object  # reference.Person
    head: object
    official: object
    period: PlanPeriod
    priorities: dict  # code -> PlanPriority of ``period``


@dataclass
class Clone:
    """One clone of a template: its ids, and what its stand-ins and case numbers became."""

    template: Template
    ids: object  # Ids
    target: Target
    case_numbers: CaseNumbers
    shift: datetime.timedelta
    parent: "Clone | None"
    base: dict = field(default_factory=dict)
    refs: dict = field(default_factory=dict)
    strings: dict = field(default_factory=dict)

    def __post_init__(self):
        t = self.template
        self.base = {table: self.ids.take(table, size) for table, size in t.sizes.items()}
        years = sorted({d.year for d in t.anchored})
        moved = (t.first_day + _whole_days(self.shift)).year - t.first_day.year
        for number in t.case_numbers:
            year = self.case_numbers.year_of(number, years)
            self.strings[number] = self.case_numbers.next(year + moved)
        if self.parent is not None:
            self.strings.update({k: v for k, v in self.parent.strings.items() if k not in self.strings})
        self.periods = {**(self.parent.periods if self.parent else {}), t.period: self.target.period}
        for value in t.external:
            self.refs[value] = self.id_of(value)
        for text in t.strings:
            if text not in self.strings:
                self.strings[text] = self.stand_in_text(text)

    def id_of(self, value):
        t = self.template
        if t.owns(value):
            table = t.ranges.table_of(value)
            return self.base[table] + value - t.low[table]
        kind, role = t.scaffold.by_id.get(value, (None, None))
        if kind == "user":
            return getattr(self.target, role).id
        if kind == "org":
            return getattr(self.target, role).pk
        if kind == "period":
            return self.periods[value].pk
        if kind == "priority":
            period, code = t.scaffold.period_of_priority[value]
            if period == t.period:
                return self.target.priorities[code].pk
        if self.parent is not None:
            return self.parent.id_of(value)
        raise RuntimeError(f"Nothing to map id {value} to.")

    def stand_in_text(self, text):
        kind, value = self.template.scaffold.strings[text]
        if kind == "period.name":
            return self.periods[value].name
        if kind == "priority.title":
            return self.target.priorities[self.template.scaffold.period_of_priority[value][1]].title
        _kind, role = self.template.scaffold.by_id[value]
        if kind == "org.name":
            return getattr(self.target, role).name
        person = getattr(self.target, role)
        return person.name if kind == "user.name" else person.ip

    def text(self, pieces, days):
        parts = []
        for piece in pieces:
            if type(piece) is str:
                parts.append(piece)
            elif piece[0] == STRING:
                parts.append(self.strings[piece[1]])
            elif piece[0] == OWN:
                parts.append(str(self.base[piece[1]] + piece[2]))
            elif piece[0] == REF:
                parts.append(str(self.refs[piece[1]]))
            else:
                parts.append(_shift_iso(piece[1], days, self.shift))
        return "".join(parts)


def _shift_iso(groups, days, shift):
    day, sep, clock, zone = groups
    if sep is None:
        return (datetime.date.fromisoformat(day) + days).isoformat()
    moment = datetime.datetime.fromisoformat(f"{day}T{clock}{'+00:00' if zone == 'Z' else zone or ''}") + shift
    text = moment.isoformat(sep=sep)
    return text.replace("+00:00", "Z") if zone == "Z" else text


class Ids:
    """New ids for clones, table by table, after the highest one in the database."""

    def __init__(self):
        with connection.cursor() as cursor:
            self.next = {name: value + 1 for name, value in table_maxima(cursor).items()}

    def take(self, table, size):
        base = self.next[table]
        self.next[table] = base + size
        if self.next[table] >= BASE:
            raise RuntimeError(f"{table} would reach id {BASE:,}, where the recordings' ids begin.")
        return base
