"""Data for the performance tests, made by the load generator (bench/loadtest):
a scenario runs once through the real services and the real process as a
template, and is cloned, in bulk, into the test's transaction.

The reference data (regions, municipalities, their people) is made once for
the folder, in a transaction rolled back after it; each test's
agreements in its own (pytest-django's). Templates are kept for the whole
session: they hold no row of a test, only what the services wrote and how to
map it."""

import contextlib
import datetime
import zoneinfo
from collections import Counter

import pytest
from django.db import transaction
from django.db.models.signals import post_init
from django.utils import timezone

from accounts.models import Organisation, User
from bench.loadtest import scenarios as s
from bench.loadtest.generate import Spec, shift_within, write
from bench.loadtest.reference import ensure_reference
from bench.loadtest.templates import Recording

STOCKHOLM = zoneinfo.ZoneInfo("Europe/Stockholm")
WITHDRAW_REASON = "Kommunen vill avvakta."


def at(year, month, day, hour=9):
    return datetime.datetime(year, month, day, hour, tzinfo=STOCKHOLM)


def quiet(*args):
    pass


def scripted(script):
    """A scenario from a script [(moment, action, *arguments)], for ``Recording.record``
    or ``run_script``."""

    def story(d, rng, start, predecessor=None, **_):
        run_script(d, script, predecessor=predecessor)

    return story


def run_script(d, script, *, predecessor=None):
    """Take the steps of ``script`` with a scenarios.Driver ("renew" renews ``predecessor``)."""
    for moment, action, *args in script:
        if action == "open":
            d.open(moment)
        elif action == "renew":
            d.renew(moment, predecessor)
        elif action == "draft":
            d.save_draft(moment, new_areas=args[0])
        elif action == "edit":
            d.save_draft(moment, edits=args[0])
        elif action == "submit":
            d.submit(moment)
        elif action == "review":
            d.review(moment, accept=args[0], area_comment=args[1])
        elif action == "decide":
            d.decide(moment, args[0], outcome=args[1], ends=args[2], meeting=s.local_date(moment))
        elif action == "sign":
            d.sign(moment, args[0])
        elif action in ("fire", "close"):
            d.fire_timers(moment)
        elif action == "write":
            d.write_follow_up(moment, submit=args[0], narrative=args[1])
        elif action == "review_fu":
            d.review_follow_up(moment, accept=args[0])
        elif action == "withdraw":
            d.withdraw(moment, reason=WITHDRAW_REASON)
        else:
            raise ValueError(action)


_templates = {}  # key -> Template, for the session


def template(key, period, story, start, **options):
    """The template of ``story`` in ``period`` (recorded at its first use)."""
    key = (key, period.name, period.starts_on, timezone.localdate())
    if key not in _templates:
        with Recording([period]) as rec:
            _templates[key] = rec.record(key[0], story, period=period, start=start, **options)
        assert _templates[key] is not None, f"the services refused a step of {key}"
    return _templates[key]


class Load:
    """The reference data, and helpers that add agreements to the test's transaction."""

    def __init__(self, reference):
        # One coordinator (Region Dalarna's first) takes every regional step, so "done by me" has all of them.
        self.dalarna = Organisation.objects.get(name="Region Dalarna")
        first = reference.coordinators[self.dalarna.pk][0]
        reference.coordinators = {region.pk: [first] for region in reference.region_of.values()}
        self.reference = reference
        self.now = timezone.now()
        self.today = timezone.localdate()
        self.periods = {p.name: p for p in reference.periods}
        self.used = set()  # (municipality id, period id) with a live agreement

    @property
    def coordinator(self):
        return User.objects.get(pk=self.reference.coordinators[self.dalarna.pk][0].id)

    def head_of(self, municipality):
        return User.objects.get(pk=self.reference.heads[municipality.pk].id)

    def municipality(self, index=0):
        return self.reference.municipalities[index]

    def _write(self, specs):
        write(self.reference, specs, parallel=False, log=quiet)

    def final_template(self, kind, period):
        """An agreement that stays, recorded once: ``kind`` is "in_force" or a stage it is under way in."""
        if kind == "in_force":
            opened = s.office_hours(period.starts_on + datetime.timedelta(days=30), _rng())
            return template(kind, period, s.signed, opened, until=self.now, changes=False)
        opened = s.office_hours(self.today - datetime.timedelta(days=100), _rng())
        return template(kind, period, s.UNDER_WAY[kind], opened, until=self.now, variant=kind == "drafting")

    def agreements(self, kind, count, *, period="2023–2026", municipality=None):
        """``count`` agreements of ``kind``: in ``municipality`` one after the other (the
        kinds that end, scenarios.FAILED), else each in another municipality (an agreement
        that stays, see ``final_template``)."""
        period = self.periods[period]
        before = set(_agreement_ids())
        if municipality is not None:
            story = s.FAILED[kind][0]
            # In August (no holiday near): the clones go to the same weeks of other years.
            first = s.office_hours(datetime.date(period.starts_on.year, 8, 7), _rng())
            recorded = template(kind, period, story, first, areas=2)
            specs, cursor = [], period.starts_on
            end = min(period.ends_on + datetime.timedelta(days=1), self.today - datetime.timedelta(days=2))
            for _n in range(count):
                shift = shift_within(recorded, period.starts_on, end, _rng(), earliest=cursor)
                assert shift is not None, "no room left in the period"
                specs.append(Spec(recorded, municipality, period, shift, kind))
                cursor = recorded.last_day + datetime.timedelta(days=round(shift.total_seconds() / 86_400) + 1)
        else:
            recorded = self.final_template(kind, period)
            free = [m for m in self.reference.municipalities if (m.pk, period.pk) not in self.used]
            assert len(free) >= count, "not enough municipalities for that many live agreements"
            specs = []
            for m in free[:count]:
                self.used.add((m.pk, period.pk))
                specs.append(Spec(recorded, m, period, datetime.timedelta(0), kind))
        self._write(specs)
        return _new_agreements(before)

    def scripted(self, script, *, municipality, period="2023–2026"):
        """One agreement from a script of steps (see ``run_script``)."""
        period = self.periods[period]
        self.used.add((municipality.pk, period.pk))
        recorded = template(("script", tuple(script)), period, scripted(script), script[0][0])
        before = set(_agreement_ids())
        self._write([Spec(recorded, municipality, period, datetime.timedelta(0), "scripted")])
        (agreement,) = _new_agreements(before)
        return agreement


def _rng():
    import random

    return random.Random(7)


def _agreement_ids():
    from cases.models import Agreement

    return Agreement.objects.values_list("pk", flat=True)


def _new_agreements(before):
    from cases.models import Agreement

    return list(Agreement.objects.exclude(pk__in=before).order_by("pk"))


@pytest.fixture(scope="package")
def load_reference(django_db_setup, django_db_blocker):
    """Regions, 60 municipalities and their people (the regions' only in Dalarna),
    for the tests of this folder (rolled back after them)."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield ensure_reference(municipalities=60, historical_periods=False, region_people={"20"}, log=quiet)
        transaction.set_rollback(True)


@pytest.fixture
def load(db, load_reference):
    return Load(load_reference)


@pytest.fixture
def current_period(db):
    from cases.models import PlanPeriod

    return PlanPeriod.objects.get(name="2023–2026")


@contextlib.contextmanager
def instances_built():
    """A Counter of the model instances built inside the block, by model label
    (Django's post_init signal, which every model instance sends)."""
    counts = Counter()

    def count(sender, **kwargs):
        counts[sender._meta.label] += 1

    post_init.connect(count, weak=False, dispatch_uid="tests_instances_built")
    try:
        yield counts
    finally:
        post_init.disconnect(dispatch_uid="tests_instances_built")
