"""Scenarios: what happens to one agreement, and when, taken step by step
through the real services and the real viewflow process.

``Driver`` takes each step the way the step views and the timer cron do
(``workflows.runner.run_step`` around one service of ``cases.services``;
``workflows.services`` to open, renew and withdraw; viewflow's
``fire_due_timers`` for the timers), as the person who takes it, from their
address, with the application's clock moved to the step's moment
(time-machine). Nothing here says what a step writes: no audit reason, due
date, outcome rule, follow-up year or token. It only says what the people do
and when; the services and the flow decide the rest, and may refuse a step
(``NotPossible``), e.g. a decision dated before its plan period begins.

The scenario functions (``KINDS``) are the stories of the load: attempts that
end withdrawn or rejected, and the agreement that stays in each plan period
(closed, in force with its yearly follow-ups, or under way)."""

import datetime
from dataclasses import dataclass

import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS
from viewflow.workflow.timers import fire_due_timers

from accounts.history import audit_context
from cases.agreements import services as case_services
from cases.follow_ups import services as follow_up_services
from cases.models import Decision, FollowUp, FollowUpEntry, Party, Stage
from workflows import services as workflow_services
from workflows.demo import SAMPLE_AREAS
from workflows.notifications import notifications_suppressed
from workflows.runner import run_step
from workflows.selectors import open_steps_of

DAY = datetime.timedelta(days=1)

# The demo's two areas (workflows.demo), then more of the same kind: (title, priority code, goal, region, municipality).
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
CHANGES_WANTED = "Vi vill att målen blir tydligare och mätbara."
AREA_COMMENT = "Beskriv hur arbetet följs upp."
RETURN_COMMENT = "Beskriv gärna vad som hänt under året."
BODIES = {Party.REGION: "Kultur- och bildningsnämnden", Party.MUNICIPALITY: "Kommunstyrelsen"}
# Which step records which party's decision and signature (as the step pages are named).
DECISION_STEP = {Party.REGION: "region_decision", Party.MUNICIPALITY: "municipal_decision"}
SIGN_STEP = {Party.REGION: "sign_region", Party.MUNICIPALITY: "sign_municipality"}
R, M = Party.REGION, Party.MUNICIPALITY
APPROVED, RETURNED, REJECTED = Decision.Outcome.APPROVED, Decision.Outcome.RETURNED, Decision.Outcome.REJECTED


class NotPossible(Exception):
    """The services refused a step of the scenario at the moment it was planned."""


def local_date(moment):
    return timezone.localtime(moment).date()


def at_hour(day, hour=9, minute=0, second=0):
    """``day`` at the given time, Swedish time."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute, second)))


def office_hours(day, rng):
    """A moment during office hours of ``day``."""
    return at_hour(day, rng.randint(8, 15), rng.randint(0, 59), rng.randint(0, 59))


def after(moment, rng, low, high):
    """A moment ``low``–``high`` days after ``moment``, in office hours, never before it."""
    later = office_hours(local_date(moment) + datetime.timedelta(days=rng.randint(low, high)), rng)
    return max(later, moment + datetime.timedelta(minutes=rng.randint(5, 90)))


class Clock:
    """The application's clock (time-machine): each step happens at its moment."""

    def __init__(self):
        self._travel = None
        self._traveller = None

    def __enter__(self):
        self._travel = time_machine.travel(timezone.now(), tick=False)
        self._traveller = self._travel.start()
        return self

    def __exit__(self, *exc):
        self._travel.stop()

    def move_to(self, moment):
        self._traveller.move_to(moment, tick=False)


@dataclass(frozen=True)
class Actor:
    """A person taking steps: the user, and the address their requests come from."""

    user: object
    ip: str


class Driver:
    """One agreement's life, step by step, through the real services and process."""

    def __init__(self, clock, *, coordinator, head, official, municipality, period, rng):
        self.clock = clock
        self.coordinator, self.head, self.official = coordinator, head, official
        self.municipality, self.period = municipality, period
        self.rng = rng
        self.agreement = None

    # -- taking steps ----------------------------------------------------------------

    def _at(self, moment):
        self.clock.move_to(moment)

    def _step(self, moment, actor, step, perform, *, complete=True):
        self._at(moment)
        with notifications_suppressed(), audit_context(ip=actor.ip):
            result = run_step(
                agreement=self.agreement, step_name=step, actor=actor.user, perform=perform, complete=complete
            )
        self.agreement.refresh_from_db()
        return result

    def open(self, moment, *, title=None):
        self._at(moment)
        c = self.coordinator
        with notifications_suppressed(), audit_context(ip=c.ip):
            self.agreement = workflow_services.agreement_open(
                actor=c.user,
                municipality=self.municipality,
                plan_period=self.period,
                title=title or f"Överenskommelse om kultursamverkan {self.municipality.name} {self.period.name}",
            )
        return self.agreement

    def renew(self, moment, predecessor):
        """Open this period's agreement from ``predecessor`` (its areas become the draft)."""
        self._at(moment)
        c = self.coordinator
        with notifications_suppressed(), audit_context(ip=c.ip):
            self.agreement = workflow_services.agreement_renew(
                actor=c.user, agreement=predecessor, plan_period=self.period
            )
        return self.agreement

    def _areas(self):
        return list(self.agreement.active_areas().prefetch_related("priorities").order_by("position", "pk"))

    def save_draft(self, moment, *, new_areas=0, edits=0):
        """The coordinator saves the draft: ``new_areas`` more areas, and edits the
        goal of the first ``edits`` ones."""
        current = self._areas()
        used = {a.title for a in current}
        areas = [
            case_services.AreaInput(
                id=a.pk,
                title=a.title,
                goal=f"{a.goal.split(' (rev')[0]} (rev {self.rng.randint(2, 99)})" if i < edits else a.goal,
                region_commitment=a.region_commitment,
                municipality_commitment=a.municipality_commitment,
                contacts=a.contacts,
                priorities=list(a.priorities.all()),
            )
            for i, a in enumerate(current)
        ]
        priorities = {p.code: p for p in self.period.priorities.all()}
        for title, code, goal, region, municipal in [t for t in AREAS if t[0] not in used][:new_areas]:
            areas.append(
                case_services.AreaInput(
                    title=title,
                    goal=goal,
                    region_commitment=region,
                    municipality_commitment=municipal,
                    contacts=f"{self.coordinator.user.full_name}, regional samordnare",
                    priorities=[priorities[code]] if code in priorities else [],
                )
            )
        agreement = self.agreement
        self._step(
            moment,
            self.coordinator,
            "draft",
            lambda: case_services.agreement_save_draft(
                actor=self.coordinator.user, agreement=agreement, title=agreement.title, areas=areas
            ),
            complete=False,
        )

    def submit(self, moment):
        """The draft goes to the municipality (with two areas written first, if it has none)."""
        if not self.agreement.active_areas().exists():
            self.save_draft(moment - datetime.timedelta(minutes=20), new_areas=2)
        agreement = self.agreement
        self._step(
            moment,
            self.coordinator,
            "draft",
            lambda: case_services.agreement_submit_for_review(actor=self.coordinator.user, agreement=agreement),
        )

    def review(self, moment, *, accept=True, comment="", area_comment=False):
        agreement, head = self.agreement, self.head.user
        if accept:
            perform = lambda: case_services.review_accept(actor=head, agreement=agreement, comment=comment)  # noqa: E731
        else:
            comments = [(None, comment or CHANGES_WANTED)]
            if area_comment and self._areas():
                comments.append((self._areas()[0], AREA_COMMENT))
            perform = lambda: case_services.review_request_changes(actor=head, agreement=agreement, comments=comments)  # noqa: E731
        self._step(moment, self.head, "review", perform)

    def decide(self, moment, party, *, outcome=APPROVED, ends=False, meeting=None):
        """One party's political decision, taken on a meeting some days before it is
        recorded (or on the day itself, when the services refuse the earlier date)."""
        party = Party(party)
        actor = self.coordinator if party == R else self.head
        agreement = self.agreement
        day = local_date(moment)
        meetings = [meeting] if meeting else [day - datetime.timedelta(days=self.rng.randint(0, 14)), day]
        for meeting_date in meetings:
            try:
                self._step(
                    moment,
                    actor,
                    DECISION_STEP[party],
                    lambda d=meeting_date: case_services.decision_record(
                        actor=actor.user,
                        agreement=agreement,
                        party=party,
                        body=BODIES[party],
                        meeting_date=d,
                        paragraph=f"§ {self.rng.randint(1, 180)}",
                        outcome=outcome,
                        ends_agreement=ends,
                    ),
                )
                return
            except ValidationError as error:
                refused = error
        raise NotPossible(f"decision refused: {refused}")

    def sign(self, moment, party):
        party = Party(party)
        actor = self.coordinator if party == R else self.head
        agreement, user = self.agreement, actor.user
        self._step(
            moment,
            actor,
            SIGN_STEP[party],
            lambda: case_services.signature_record(
                actor=user,
                agreement=agreement,
                party=party,
            ),
        )

    def fire_timers(self, moment):
        """The timer cron runs at ``moment``; every timer due by then fires."""
        self._at(moment)
        due = Task.objects.filter(flow_task_type="TIMER", status=STATUS.SCHEDULED, scheduled__lte=timezone.now())
        others = due.exclude(process__agreementprocess__agreement=self.agreement).count()
        if others:  # they would write into this scenario's rows
            raise RuntimeError(
                f"{others} timers of other agreements are due at {moment}; a scenario fires its own only."
            )
        due = due.count()
        with notifications_suppressed():
            fired = fire_due_timers()
        if fired != due:
            raise RuntimeError(f"{due - fired} due timers did not fire at {moment} (see the log)")
        self.agreement.refresh_from_db()

    def next_timer(self):
        """When this agreement's process next wakes up by itself, or None."""
        return (
            Task.objects.filter(process__agreementprocess__agreement=self.agreement, status=STATUS.SCHEDULED)
            .order_by("scheduled")
            .values_list("scheduled", flat=True)
            .first()
        )

    def open_steps(self):
        return {task.flow_task.name for task in open_steps_of(self.agreement)}

    def follow_up(self):
        return FollowUp.objects.filter(agreement=self.agreement).order_by("-year").first()

    def write_follow_up(self, moment, *, submit=True, actor=None, narrative=None):
        actor = actor or self.head
        follow_up = self.follow_up()
        choices = [p for p in FollowUpEntry.Progress.values if p != FollowUpEntry.Progress.NOT_STARTED]
        entries = [
            follow_up_services.EntryInput(
                area_id=entry.area_id,
                progress=choices[0] if narrative else self.rng.choice(choices),
                narrative=narrative or self.rng.choice(NARRATIVES),
            )
            for entry in follow_up.entries.order_by("pk")
        ]
        self._step(
            moment,
            actor,
            "write_follow_up",
            lambda: follow_up_services.follow_up_report(
                actor=actor.user, follow_up=follow_up, entries=entries, submit=submit
            ),
            complete=submit,
        )

    def review_follow_up(self, moment, *, accept=True):
        follow_up, user = self.follow_up(), self.coordinator.user
        self._step(
            moment,
            self.coordinator,
            "review_follow_up",
            lambda: follow_up_services.follow_up_review(
                actor=user, follow_up=follow_up, accept=accept, comment="" if accept else RETURN_COMMENT
            ),
        )

    def withdraw(self, moment, reason=None):
        self._at(moment)
        c = self.coordinator
        with notifications_suppressed(), audit_context(ip=c.ip):
            workflow_services.agreement_withdraw(
                actor=c.user, agreement=self.agreement, reason=reason or self.rng.choice(WITHDRAW_REASONS)
            )
        self.agreement.refresh_from_db()


# ---------------------------------------------------------------------------
# The stories
# ---------------------------------------------------------------------------


def draft_and_submit(d, rng, t, areas=None):
    """Write the draft with ``areas`` areas (or edit the renewed one) and send it;
    returns the last moment."""
    if d.agreement.active_areas().exists():
        t = after(t, rng, 0, 2)
        d.save_draft(t, edits=rng.randint(1, 2))
    else:
        t = after(t, rng, 0, 2)
        d.save_draft(t, new_areas=areas or rng.randint(1, 4), edits=rng.randint(0, 2))
    t = after(t, rng, 0, 2)
    d.submit(t)
    return t


def to_approval(d, rng, t, areas=None):
    t = draft_and_submit(d, rng, t, areas)
    t = after(t, rng, 1, 3)
    d.review(t, accept=True, comment="Bra förslag." if rng.random() < 0.2 else "")
    return t


def both(step, rng, t, gap=(1, 3)):
    """Both parties take ``step`` (Driver.decide or Driver.sign), in either order."""
    order = [R, M]
    rng.shuffle(order)
    for party in order:
        t = after(t, rng, *gap)
        step(t, party)
    return t


# Attempts that end before the agreement that stays: withdrawn at each stage, or rejected.
# Each takes a few days, so that many fit before the agreement that stays. ``areas``:
# how many areas the draft gets (a withdrawn draft may have none).


def withdrawn_drafting(d, rng, t, *, areas=None, **_):
    d.open(t)
    areas = rng.choice([0, 1, 2, 3, 2, 1, 3]) if areas is None else areas
    if areas:
        t = after(t, rng, 0, 2)
        d.save_draft(t, new_areas=areas, edits=rng.randint(0, 2))
    d.withdraw(after(t, rng, 1, 3))


def withdrawn_review(d, rng, t, *, areas=None, **_):
    d.open(t)
    t = draft_and_submit(d, rng, t, areas)
    d.withdraw(after(t, rng, 1, 3))


def withdrawn_after_changes(d, rng, t, *, areas=None, **_):
    d.open(t)
    t = draft_and_submit(d, rng, t, areas)
    t = after(t, rng, 1, 3)
    d.review(t, accept=False, area_comment=rng.random() < 0.5)
    t = after(t, rng, 0, 2)
    d.save_draft(t, edits=1)
    d.withdraw(after(t, rng, 1, 2))


def withdrawn_approval(d, rng, t, *, areas=None, **_):
    d.open(t)
    t = to_approval(d, rng, t, areas)
    if rng.random() < 0.5:
        t = after(t, rng, 1, 3)
        d.decide(t, rng.choice([R, M]))
    d.withdraw(after(t, rng, 1, 3))


def withdrawn_signing(d, rng, t, *, areas=None, **_):
    d.open(t)
    t = to_approval(d, rng, t, areas)
    t = both(d.decide, rng, t)
    if rng.random() < 0.5:
        t = after(t, rng, 1, 2)
        d.sign(t, rng.choice([R, M]))
    d.withdraw(after(t, rng, 1, 3))


def returned_then_withdrawn(d, rng, t, *, areas=None, **_):
    d.open(t)
    t = to_approval(d, rng, t, areas)
    t = after(t, rng, 1, 3)
    d.decide(t, rng.choice([R, M]), outcome=RETURNED)
    t = after(t, rng, 0, 2)
    d.save_draft(t, edits=1)
    d.withdraw(after(t, rng, 1, 2))


def rejected_by(party):
    def scenario(d, rng, t, *, areas=None, **_):
        d.open(t)
        t = to_approval(d, rng, t, areas)
        if rng.random() < 0.4:
            t = after(t, rng, 1, 3)
            d.decide(t, M if party == R else R)
        d.decide(after(t, rng, 1, 3), party, outcome=REJECTED, ends=True)

    return scenario


# The agreement that stays: opened (or renewed from the previous period's), and taken
# as far as its kind goes before ``until``.


def _start(d, rng, t, predecessor):
    if predecessor is not None:
        d.renew(t, predecessor)
    else:
        d.open(t)


# How far this year's follow-up has come (``live(…, now=…)``).
FOLLOW_UP_NOW = ("open", "saved", "handed_in", "returned", "accepted")


def live(d, rng, t, *, until, now=None):
    """In force: each timer fires when it is due (the yearly follow-up opens, or the
    agreement closes at its period's end); each follow-up is written, one in five
    returned once, and accepted. Stops before ``until``: this year's follow-up may be
    left half written. ``now`` (one of FOLLOW_UP_NOW): how far a follow-up opened in
    the last two months before ``until`` has come."""
    while True:
        due = d.next_timer()
        if due is None or due >= until:
            return
        d.fire_timers(due + datetime.timedelta(seconds=rng.randint(5, 300)))
        if d.agreement.is_final or "write_follow_up" not in d.open_steps():
            continue
        opened = timezone.now()
        writer = d.head if rng.random() < 0.7 else d.official
        if now is not None and until - opened < datetime.timedelta(days=60):
            _this_year(d, opened, until, now, writer)
            if now != "accepted":
                return
            continue
        written = after(opened, rng, 5, 40)
        if written >= until:
            if rng.random() < 0.5 and opened + DAY < until:
                d.write_follow_up(opened + (until - opened) / 2, submit=False, actor=writer)
            return
        d.write_follow_up(written, actor=writer)
        reviewed = after(written, rng, 2, 20)
        if reviewed >= until:
            return
        if rng.random() < 0.2:
            d.review_follow_up(reviewed, accept=False)
            written = after(reviewed, rng, 2, 10)
            if written >= until:
                return
            d.write_follow_up(written, actor=writer)
            reviewed = after(written, rng, 1, 7)
            if reviewed >= until:
                return
        d.review_follow_up(reviewed, accept=True)


def _this_year(d, opened, until, now, writer):
    """This year's follow-up, taken as far as ``now`` says, between its opening and ``until``."""
    part = (until - opened) / 5
    if now in ("saved", "handed_in", "returned", "accepted"):
        d.write_follow_up(opened + part, submit=now != "saved", actor=writer)
    if now == "returned":
        d.review_follow_up(opened + 2 * part, accept=False)
    if now == "accepted":
        d.review_follow_up(opened + 2 * part, accept=True)


def signed(d, rng, t, *, until, predecessor=None, changes=None, now=None):
    """Opened at ``t``, signed some 45–120 days later, then ``live`` until ``until``."""
    _start(d, rng, t, predecessor)
    if changes if changes is not None else (predecessor is None and rng.random() < 0.15):
        t = draft_and_submit(d, rng, t)
        t = after(t, rng, 2, 6)
        d.review(t, accept=False, area_comment=rng.random() < 0.5)
        t = after(t, rng, 2, 6)
        d.submit(t)
        t = after(t, rng, 2, 6)
        d.review(t, accept=True)
    else:
        t = to_approval(d, rng, t)
    t = both(d.decide, rng, t, gap=(10, 30))
    both(d.sign, rng, t, gap=(3, 12))
    live(d, rng, t, until=until, now=now)


def under_way(stage):
    """Taken up to ``stage`` (drafting, review, approval or signing) within [t, until)."""

    def scenario(d, rng, t, *, until, predecessor=None, variant=0):
        _start(d, rng, t, predecessor)
        if stage == Stage.DRAFTING:
            if predecessor is None and variant:
                d.save_draft(after(t, rng, 1, 5), new_areas=rng.randint(1, 4))
            return
        if stage == Stage.REVIEW:
            t = draft_and_submit(d, rng, t)
            if variant:  # a second round
                t = after(t, rng, 2, 6)
                d.review(t, accept=False, area_comment=True)
                t = after(t, rng, 2, 6)
                d.save_draft(t, edits=1)
                d.submit(after(t, rng, 0, 2))
            return
        t = to_approval(d, rng, t)
        if stage == Stage.APPROVAL:
            if variant:  # one party has decided
                d.decide(after(t, rng, 5, 20), rng.choice([R, M]))
            return
        t = both(d.decide, rng, t, gap=(5, 20))
        if variant:  # one party has signed
            d.sign(after(t, rng, 2, 6), rng.choice([R, M]))

    return scenario


# kind -> (story, weight). Attempts that end before the agreement that stays:
FAILED = {
    "withdrawn_drafting": (withdrawn_drafting, 30),
    "withdrawn_review": (withdrawn_review, 14),
    "withdrawn_after_changes": (withdrawn_after_changes, 10),
    "withdrawn_approval": (withdrawn_approval, 8),
    "withdrawn_signing": (withdrawn_signing, 4),
    "returned_then_withdrawn": (returned_then_withdrawn, 6),
    "rejected_region": (rejected_by(R), 5),
    "rejected_municipality": (rejected_by(M), 5),
}
# The agreement that stays, by where its plan period stands today (None: no agreement).
PAST_FINAL = [("closed", 96), (None, 4)]
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
UNDER_WAY = {
    "drafting": under_way(Stage.DRAFTING),
    "review": under_way(Stage.REVIEW),
    "approval": under_way(Stage.APPROVAL),
    "signing": under_way(Stage.SIGNING),
}


def pick(rng, weighted):
    """One key of [(key, weight)], by weight."""
    total = sum(w for _k, w in weighted)
    point = rng.uniform(0, total)
    for key, weight in weighted:
        point -= weight
        if point <= 0:
            return key
    return weighted[-1][0]
