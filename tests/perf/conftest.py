"""Data for the performance tests, written by the load-data generator
(workflows/loaddata.py) into the test's own transaction: any number of
agreements in any stage, in a few hundred milliseconds."""

import datetime
import random
import zoneinfo

import pytest
from django.utils import timezone, translation

from accounts.models import Organisation, User
from cases.models import Agreement, PlanPeriod
from workflows import loaddata
from workflows.notifications import notifications_suppressed

STOCKHOLM = zoneinfo.ZoneInfo("Europe/Stockholm")


def at(year, month, day, hour=9):
    return datetime.datetime(year, month, day, hour, tzinfo=STOCKHOLM)


def _quiet(*args):
    pass


def story_from_script(gen, script, *, municipality, period, coordinator, head, seed=7):
    """Run ``script`` ([(moment, action, *args)]) through the generator's Story
    and write its rows into ``gen.out``; return the agreement's id."""
    story = loaddata.Story(
        gen,
        municipality=municipality,
        period=period,
        coordinator=coordinator,
        head=head,
        official=head,
        opened_at=script[0][0],
        rng=random.Random(seed),
    )
    with translation.override("sv"):
        for moment, action, *args in script:
            if action == "open":
                story.open_agreement()
            elif action == "draft":
                story.save_draft(moment, new_areas=args[0])
            elif action == "edit":
                story.save_draft(moment, edits=args[0])
            elif action == "submit":
                story.submit(moment)
            elif action == "review":
                story.review(moment, accept=args[0], area_comment=args[1])
            elif action == "decide":
                story.decide(moment, args[0], outcome=args[1], ends=args[2])
            elif action == "sign":
                story.sign(moment, args[0])
            elif action == "fire":
                story.fire_follow_up(args[0])
            elif action == "write":
                story.write_follow_up(moment, submit=args[0], narrative=args[1])
            elif action == "review_fu":
                story.review_follow_up(moment, accept=args[0])
            elif action == "close":
                story.close()
            elif action == "withdraw":
                story.withdraw(moment, reason=args[0] if args else "Kommunen vill avvakta.")
            else:
                raise ValueError(action)
        return story.write()["id"]


def load_rows(gen):
    """COPY what ``gen`` has written into the current transaction."""
    loader = loaddata.Loader(workers=0)
    loader.submit(gen.out.spools())
    gen.out.close()
    gen.out.fix_sequences()


class Load:
    """Regions, municipalities and people (as the generator makes them), and
    helpers that add agreements to the test's transaction."""

    def __init__(self, tmp_path, municipalities=60):
        with notifications_suppressed():
            self.reference = loaddata.ensure_reference(municipalities=municipalities, log=_quiet)
        # One coordinator (Region Dalarna's first) takes every regional step, so "done by me" has all of them.
        self.dalarna = Organisation.objects.get(name="Region Dalarna")
        first = self.reference.coordinators[self.dalarna.pk][0]
        self.reference.coordinators = {region: [first] for region in self.reference.coordinators}
        self.tmp_path = tmp_path
        self.now = timezone.now()
        self.today = timezone.localdate()
        self.periods = {p.name: p for p in self.reference.periods}
        self.used = set()  # (municipality id, period id) with a live agreement
        self.batches = 0

    @property
    def coordinator(self):
        return User.objects.get(pk=self.reference.coordinators[self.dalarna.pk][0].id)

    def head_of(self, municipality):
        return User.objects.get(pk=self.reference.heads[municipality.pk].id)

    def municipality(self, index=0):
        return self.reference.municipalities[index]

    def generator(self):
        self.batches += 1
        directory = self.tmp_path / f"spools-{self.batches}"
        directory.mkdir()
        return loaddata.Generator(reference=self.reference, out=loaddata.Output(str(directory)), now=self.now)

    def agreements(self, kind, count, *, period="2023–2026", municipality=None):
        """``count`` agreements of the scenario ``kind`` (see loaddata.SCENARIOS):
        in ``municipality`` one after the other (kinds that end, e.g. withdrawn),
        else each in another municipality."""
        period = self.periods[period]
        specs = []
        if municipality is not None:
            start = self.now - datetime.timedelta(days=3 * count + 10)
            for n in range(count):
                begin = start + datetime.timedelta(days=3 * n)
                specs.append(loaddata.Spec(municipality, period, kind, begin, begin + datetime.timedelta(days=2)))
        else:
            free = [m for m in self.reference.municipalities if (m.pk, period.pk) not in self.used]
            assert len(free) >= count, "not enough municipalities for that many live agreements"
            for m in free[:count]:
                self.used.add((m.pk, period.pk))
                start, end = self.window(kind, period)
                specs.append(loaddata.Spec(m, period, kind, start, end))
        before = set(Agreement.objects.values_list("pk", flat=True))
        with notifications_suppressed():
            loaddata.write_specs(self.reference, specs, now=self.now, parallel=False, log=_quiet)
        return list(Agreement.objects.exclude(pk__in=before).order_by("pk"))

    def window(self, kind, period):
        if kind in ("in_force", "closed"):
            start = timezone.make_aware(datetime.datetime.combine(period.starts_on, datetime.time(9)))
            return start + datetime.timedelta(days=30), start + datetime.timedelta(days=120)
        return self.now - datetime.timedelta(days=100), self.now - datetime.timedelta(days=2)

    def scripted(self, script, *, municipality, period="2023–2026"):
        """One agreement from a script of steps (see story_from_script)."""
        gen = self.generator()
        period = self.periods[period]
        self.used.add((municipality.pk, period.pk))
        region = self.reference.region_of[municipality.pk]
        pk = story_from_script(
            gen,
            script,
            municipality=municipality,
            period=period,
            coordinator=self.reference.coordinators[region.pk][0],
            head=self.reference.heads[municipality.pk],
        )
        load_rows(gen)
        return Agreement.objects.get(pk=pk)


@pytest.fixture
def load(db, tmp_path):
    return Load(tmp_path)


@pytest.fixture
def current_period(db):
    return PlanPeriod.objects.get(name="2023–2026")
