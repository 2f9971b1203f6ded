"""The load: which agreements there are, where and when, made from templates.

1. Reference data (reference.py) through the services.
2. The templates (templates.Recording): for every plan period, the agreement
   that stays in it (closed in past periods; in force, signing, in approval,
   in review or in drafting in the current one; in drafting, review or
   approval for the next), some fresh and some renewed from the previous
   period's; and the attempts that end withdrawn or rejected, once before a
   period begins and once within one.
3. The plan (``plan``): per municipality and plan period, the agreement that
   stays (a renewal only where the previous period's agreement is the one it
   was recorded from), and before it, one after the other, attempts that
   were withdrawn or rejected, each a template moved in time by whole weeks
   (weekdays kept) and some seconds within its day, never across a plan
   period's start or end, today, or (for a template that lies within one
   year) New Year. A template with a timer (in force, closed) keeps its
   times: the flow set them from the calendar.
4. The clones (templates.Template.clone), COPYed in batches while the next
   batch is made (loading.Loader).
"""

import datetime
import random
import time
from collections import Counter
from dataclasses import dataclass, field

from django.db import connection
from django.utils import timezone

from . import scenarios as s
from .loading import Batch, Loader
from .reference import ensure_reference
from .templates import CaseNumbers, IdRanges, Ids, Recording, Target

WEEK = 7
# How long before its plan period an attempt may be opened. The attempts keep the working
# days of their steps, so they fit in fewer weeks of a year than they would anywhere.
EARLIEST = datetime.timedelta(days=600)
# How many areas the drafts of the recorded attempts get, in turn (a withdrawn draft may have none).
AREAS = {kind: [2, 3, 1, 4, 2] for kind in s.FAILED} | {"withdrawn_drafting": [2, 0, 3, 1, 2, 0, 3]}


def level_of(period, today):
    if period.ends_on < today:
        return "past"
    return "current" if period.starts_on <= today else "future"


@dataclass
class Final:
    """A recorded agreement that stays in its period."""

    kind: str
    template: object
    renewal: bool = False
    kept: bool = False  # the next period's renewals continue this one


@dataclass
class Book:
    """The templates of a load."""

    finals: dict = field(default_factory=dict)  # period id -> [Final]
    failed: dict = field(default_factory=lambda: {"before": {}, "within": {}})  # where -> kind -> [Template]
    recorded: int = 0
    rows: int = 0

    def add(self, template):
        if template is not None:
            self.recorded += 1
            self.rows += template.rows
        return template


def _monday(day, weeks=0):
    return day - datetime.timedelta(days=day.weekday()) + datetime.timedelta(weeks=weeks)


class _Finals:
    """Records the agreements that stay in one plan period."""

    def __init__(self, rec, book, period, rng):
        self.rec, self.book, self.period, self.rng = rec, book, period, rng
        self.finals = book.finals[period.pk] = []

    def opened_early(self):
        return self.period.starts_on + datetime.timedelta(days=self.rng.randint(20, 420))

    def record(self, kind, story, opened, *, keep=False, parent=None, **options):
        """Record one; returns it when ``keep`` (the next period's renewals continue it)."""
        template = self.book.add(
            self.rec.record(
                kind,
                story,
                period=self.period,
                start=s.office_hours(opened, self.rng),
                town="alfa",
                seed=self.rng.randrange(1 << 30),
                keep=keep,
                parent=parent.template if parent else None,
                **options,
            )
        )
        if template is None and options.get("variant"):  # the services refused that variant here: the plain one
            return self.record(kind, story, opened, keep=keep, parent=parent, **{**options, "variant": False})
        if template is None:
            return None
        self.finals.append(Final(kind, template, renewal=parent is not None, kept=keep))
        return self.finals[-1] if keep else None


def record_book(reference, *, now, seed=1, variety=1, log=print) -> Book:
    """Record every template the load is made of (see the module's docstring)."""
    today = timezone.localdate(now)
    book = Book()
    started = time.perf_counter()
    with Recording(reference.periods) as rec:
        kept = None
        for period in reference.periods:
            rng = random.Random(f"{seed}:{period.name}")
            level = level_of(period, today)
            finals = _Finals(rec, book, period, rng)
            if level == "past":
                until = s.at_hour(period.ends_on + datetime.timedelta(days=30))
                if kept is not None:
                    finals.record("closed", s.signed, finals.opened_early(), parent=kept, until=until)
                kept = finals.record("closed", s.signed, finals.opened_early(), keep=True, until=until)
            elif level == "current":
                # In force, with this year's follow-up (if it has opened) at each point of its way.
                if kept is not None:
                    finals.record("in_force", s.signed, finals.opened_early(), parent=kept, until=now, now="handed_in")
                finals.record("in_force", s.signed, finals.opened_early(), until=now, changes=True, now="open")
                finals.record("in_force", s.signed, finals.opened_early(), until=now, now="saved")
                late = today - datetime.timedelta(days=rng.randint(50, 130))
                finals.record("in_force_late", s.signed, late, until=now)
                for n, kind in enumerate(("signing", "approval", "review", "drafting")):
                    opened = today - datetime.timedelta(days=rng.randint(70, 180))
                    variant = n % 2 == 0 or rng.random() < 0.5
                    finals.record(kind, s.UNDER_WAY[kind], opened, until=now, variant=variant)
                kept = finals.record("in_force", s.signed, finals.opened_early(), keep=True, until=now, now="returned")
            else:
                for n, kind in enumerate(("drafting", "drafting", "review", "approval")):
                    opened = today - datetime.timedelta(days=rng.randint(40, 180))
                    parent = kept if n == 0 else None
                    finals.record(kind, s.UNDER_WAY[kind], opened, until=now, parent=parent, variant=n % 2)
                kept = None

        # Attempts that end before the agreement that stays: recorded once within a
        # plan period (the current one) and once before one begins (the next one),
        # between August and mid-November: no holiday there, so a clone can go to
        # the same weeks of any year with its working days as they were.
        current = next((p for p in reference.periods if level_of(p, today) == "current"), None)
        upcoming = next((p for p in reference.periods if level_of(p, today) == "future"), None)
        for where, period, year in (
            ("within", current, current.starts_on.year if current else None),
            ("before", upcoming, upcoming.starts_on.year - 1 if upcoming else None),
        ):
            if period is None:
                continue
            rng = random.Random(f"{seed}:{where}")
            first = _monday(datetime.date(year, 8, 8))
            last = min(datetime.date(year, 11, 15), today - datetime.timedelta(days=21))
            moment, n = first, 0
            for kind, (story, weight) in s.FAILED.items():
                for _copy in range(max(1, round(weight * variety / 12))):
                    n += 1
                    day = moment + datetime.timedelta(days=rng.randint(0, 3))
                    template = book.add(
                        rec.record(
                            kind,
                            story,
                            period=period,
                            start=s.office_hours(day, rng),
                            seed=rng.randrange(1 << 30),
                            areas=AREAS[kind][n % len(AREAS[kind])],
                        )
                    )
                    if template is not None:
                        book.failed[where].setdefault(kind, []).append(template)
                    moment += datetime.timedelta(weeks=1)
                    if moment >= last:
                        moment = first
    log(
        f"  {book.recorded} templates recorded through the services ({book.rows:,} rows) "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return book


# ---------------------------------------------------------------------------
# The plan
# ---------------------------------------------------------------------------


@dataclass
class Spec:
    """One clone: of which template, for which municipality and period, moved by how much."""

    template: object
    municipality: object
    period: object
    shift: datetime.timedelta
    kind: str
    key: tuple | None = None  # where the next period's renewal finds this clone
    parent: tuple | None = None  # the key of the clone it continues

    @property
    def start(self):
        return self.template.start + self.shift


_calendar = {}  # first ordinal -> bytes: 1 for a working day, 0 for a day off (cases.workdays)


def _working(first, last):
    """The working days from ``first`` to ``last`` (dates) as bytes, read from the
    domain's calendar once per decade."""
    flags = []
    day = first
    while day <= last:
        decade = day.year // 10 * 10
        if decade not in _calendar:
            from cases.workdays import is_working_day

            start = datetime.date(decade, 1, 1)
            _calendar[decade] = bytes(
                is_working_day(start + datetime.timedelta(days=n))
                for n in range((datetime.date(decade + 10, 1, 1) - start).days)
            )
        index = (day - datetime.date(decade, 1, 1)).days
        take = min((last - day).days + 1, len(_calendar[decade]) - index)
        flags.append(_calendar[decade][index : index + take])
        day += datetime.timedelta(days=take)
    return b"".join(flags)


def same_calendar(template, move, *, days=None):
    """Whether ``days`` (default: from the template's first to its last date, due
    dates included) are working days or days off exactly as the same days
    ``move`` later are, in the domain's calendar (cases.workdays): then every
    date a service counted in working days (a due date, a reminder) is where it
    would count it."""
    first, last = days or (template.first_day, max(template.days))
    return _working(first, last) == _working(first + move, last + move)


# How far past the first place that keeps the steps' working days a clone may go
# to find one that keeps its whole calendar (due dates included).
EXACT_WITHIN = 6


def shift_within(template, low, high, rng, *, earliest=None):
    """A shift of whole weeks (and some seconds within the day) that puts the
    template's days within [low, high): the earliest from ``earliest`` (a date)
    when given, else any. A template within one year stays within one year (its
    case number takes the new one); one that spans New Year keeps every day in
    its year. The days of its steps keep their working days and days off
    (``same_calendar``); a place where all its dates do, due dates included, is
    taken when there is one within EXACT_WITHIN weeks of the first. The shift
    says which (``.exact``). None when none fits."""
    first, last = template.first_day, template.last_day
    lowest = ((max(low, earliest) if earliest else low) - first).days
    highest = (high - datetime.timedelta(days=1) - last).days
    weeks = range(-(-lowest // WEEK), highest // WEEK + 1)
    if earliest is None:
        weeks = list(weeks)
        rng.shuffle(weeks)
    fallback = None
    for n, week in enumerate(weeks):
        if fallback is not None and n > fallback[0] + EXACT_WITHIN:
            break
        move = datetime.timedelta(weeks=week)
        if template.one_year:
            if (first + move).year != (last + move).year:
                continue
        elif any((day + move).year != day.year for day in template.anchored):
            continue
        if not same_calendar(template, move, days=(first, last)):
            continue
        if same_calendar(template, move):
            return Shift(move, rng, template, exact=True)
        if fallback is None:
            fallback = (n, move)
    return Shift(fallback[1], rng, template, exact=False) if fallback else None


class Shift(datetime.timedelta):
    """A clone's move in time: whole weeks and some seconds within the day;
    ``exact`` when the calendar of all its dates is the template's."""

    def __new__(cls, move, rng, template, *, exact):
        low, high = template.second_range()
        shift = super().__new__(
            cls, seconds=(move + datetime.timedelta(seconds=rng.randint(low, high))).total_seconds()
        )
        shift.exact = exact
        return shift


def plan(reference, book, *, agreements, now, seed=1):
    """The clones of the load, in time order (see the module's docstring)."""
    rng = random.Random(seed)
    today = timezone.localdate(now)
    finals = []  # Spec
    periods = reference.periods
    for municipality in reference.municipalities:
        previous = None  # the Final chosen in the previous period
        for period in periods:
            level = level_of(period, today)
            choices = book.finals.get(period.pk, [])
            weights = {"past": s.PAST_FINAL, "current": s.CURRENT_FINAL, "future": s.FUTURE_FINAL}[level]
            kind = s.pick(rng, weights)
            of_kind = [f for f in choices if f.kind == kind]
            renewals = [f for f in of_kind if f.renewal]
            fresh = [f for f in of_kind if not f.renewal]
            if previous is not None and previous.kept and renewals and rng.random() < 0.5:
                chosen = rng.choice(renewals)
            elif fresh:
                chosen = rng.choice(fresh)
            else:
                chosen = None
            if chosen is None:
                previous = None
                continue
            template = chosen.template
            shift = datetime.timedelta(0)
            if not template.fixed_in_time:  # a few weeks earlier or later, on the same side of the period's start
                first, last = template.first_day, template.last_day
                before = last < period.starts_on
                low = max(first - datetime.timedelta(weeks=10), datetime.date.min if before else period.starts_on)
                high = min(
                    last + datetime.timedelta(weeks=10, days=1),
                    period.starts_on if before else period.ends_on + datetime.timedelta(days=1),
                    today,
                )
                shift = shift_within(template, low, high, rng) or datetime.timedelta(0)
            finals.append(
                Spec(
                    template,
                    municipality,
                    period,
                    shift,
                    chosen.kind,
                    key=(municipality.pk, period.pk),
                    parent=(municipality.pk, periods[periods.index(period) - 1].pk) if chosen.renewal else None,
                )
            )
            previous = chosen

    if len(finals) > agreements:  # a small load: some of the agreements that stay, renewals only with their predecessor
        keep = set(rng.sample(range(len(finals)), agreements))
        kept_keys = {finals[i].key for i in keep}
        finals = [f for i, f in enumerate(finals) if i in keep and (f.parent is None or f.parent in kept_keys)]

    # Before each agreement that stays (or, without one, until the period's end or today):
    # attempts that were withdrawn or rejected, one after the other.
    opened = {(f.municipality.pk, f.period.pk): f.start for f in finals}
    slots = [(m, p) for p in periods for m in reference.municipalities]
    wanted = Counter(rng.randrange(len(slots)) for _n in range(max(0, agreements - len(finals))))
    cursors = {}
    failed, left = [], 0
    for index, (municipality, period) in enumerate(slots):
        left += _fill(book, failed, cursors, index, municipality, period, wanted[index], opened, today, rng)
    while left:
        open_slots = [i for i, c in cursors.items() if c is not None]
        if not open_slots:
            break
        retry = Counter(rng.choice(open_slots) for _n in range(left))
        left = 0
        for index, count in retry.items():
            municipality, period = slots[index]
            left += _fill(book, failed, cursors, index, municipality, period, count, opened, today, rng)
    specs = finals + failed
    specs.sort(key=lambda spec: spec.start)
    return specs


def calendar_kept(specs):
    """Of the clones moved in time, how many keep the template's whole working-day
    calendar (due dates included), and how many only their steps'."""
    moved = [spec.shift for spec in specs if spec.shift]
    exact = sum(1 for shift in moved if getattr(shift, "exact", True))
    return exact, len(moved) - exact


def _fill(book, specs, cursors, index, municipality, period, count, opened, today, rng):
    """Place ``count`` attempts in a slot, spread over what is left of its window
    after its cursor; returns how many did not fit."""
    final = opened.get((municipality.pk, period.pk))
    if final is not None:  # up to two days before it opens
        end = timezone.localdate(final) - datetime.timedelta(days=1)
    else:
        end = min(period.ends_on + datetime.timedelta(days=1), today - datetime.timedelta(days=2))
    cursor = cursors.get(index, period.starts_on - EARLIEST)
    spacing = (end - cursor) / count if count and cursor is not None and end > cursor else datetime.timedelta(0)
    begin = cursor
    for n in range(count):
        cursor = None if cursor is None else max(cursor, begin + spacing * n)
        placed = None
        while cursor is not None and placed is None:
            before = cursor < period.starts_on
            where = "before" if before else "within"
            low = period.starts_on - EARLIEST if before else period.starts_on
            high = min(period.starts_on if before else period.ends_on + datetime.timedelta(days=1), end)
            pool = book.failed[where]
            for _try in range(4 if pool and cursor < high else 0):
                kind = s.pick(rng, [(k, s.FAILED[k][1]) for k in pool])
                fits = []  # (first day, template, shift) of each recording of the kind: the earliest wins
                for template in pool[kind]:
                    shift = shift_within(template, low, high, rng, earliest=cursor)
                    if shift is not None:
                        fits.append((template.first_day + datetime.timedelta(days=_whole_days(shift)), template, shift))
                if fits:
                    _day, template, shift = min(fits, key=lambda fit: fit[0])
                    placed = Spec(template, municipality, period, shift, kind)
                    break
            if placed is None:  # nothing fits before the period begins: go on within it, or stop
                cursor = period.starts_on if before and period.starts_on < end else None
        if placed is None:
            cursors[index] = None
            return count - n
        specs.append(placed)
        cursor = placed.template.last_day + datetime.timedelta(days=_whole_days(placed.shift) + 1)
    cursors[index] = cursor
    return 0


def _whole_days(shift):
    return round(shift.total_seconds() / 86_400)


# ---------------------------------------------------------------------------
# Writing
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


def targets(reference, municipality, period, rng):
    region = reference.region_of[municipality.pk]
    return Target(
        municipality=municipality,
        region=region,
        coordinator=rng.choice(reference.coordinators[region.pk]),
        head=reference.heads[municipality.pk],
        official=reference.officials[municipality.pk],
        period=period,
        priorities=reference.priorities.get(period.pk, {}),
    )


def write(reference, specs, *, parallel=True, seed=1, batch=5_000, log=print) -> Result:
    """Clone ``specs`` (in order) and load them, a batch at a time: with
    ``parallel`` over two connections while the next batch is made, else into
    the caller's transaction."""
    started = time.perf_counter()
    rng = random.Random(f"{seed}:people")
    ids, numbers = Ids(), CaseNumbers()
    loader = Loader(workers=2 if parallel else 0)
    clones, kinds = {}, Counter()
    out = Batch()
    try:
        for n, spec in enumerate(specs, start=1):
            target = targets(reference, spec.municipality, spec.period, rng)
            clone = spec.template.clone(
                out,
                ids=ids,
                target=target,
                case_numbers=numbers,
                shift=spec.shift,
                parent=clones.get(spec.parent),
            )
            if spec.key is not None:
                clones[spec.key] = clone
            kinds[spec.kind] += 1
            if n % batch == 0 or n == len(specs):
                loader.submit(out)
                out = Batch()
                if parallel and n % (batch * 4) == 0:
                    log(f"  {n:,} agreements cloned ({time.perf_counter() - started:.0f} s)")
        made = time.perf_counter() - started
    finally:
        counts = loader.finish()
    numbers.save()
    with connection.cursor() as cursor:
        IdRanges.reset(cursor)
    seconds = {"clone": made, "load": time.perf_counter() - started - made}
    result = Result(agreements=len(specs), counts=counts, kinds=kinds, seconds=seconds)
    log(
        f"  cloned in {made:.1f} s, loaded {seconds['load']:.1f} s later: {sum(counts.values()):,} rows, "
        f"of which {result.history_rows:,} history rows, each hash-chained by the database"
    )
    return result


def generate(
    *, agreements=100_000, municipalities=290, seed=1, parallel=True, variety=2, historical_periods=True, log=print
) -> Result:
    """The whole load: reference data, templates, plan, clones."""
    started = time.perf_counter()
    now = timezone.now()
    reference = ensure_reference(
        municipalities=municipalities, seed=seed, historical_periods=historical_periods, log=log
    )
    seconds = {"reference": time.perf_counter() - started}
    log(f"  reference data in {seconds['reference']:.1f} s")
    recorded = time.perf_counter()
    book = record_book(reference, now=now, seed=seed, variety=variety, log=log)
    seconds["templates"] = time.perf_counter() - recorded
    specs = plan(reference, book, agreements=agreements, now=now, seed=seed)
    exact, steps_only = calendar_kept(specs)
    log(
        f"  {len(specs):,} agreements planned; of those moved in time, {exact:,} keep the template's working days "
        f"over all their dates, {steps_only:,} on the days of their steps (due dates moved with them)"
    )
    result = write(reference, specs, parallel=parallel, seed=seed, log=log)
    result.seconds.update(seconds)
    return result
