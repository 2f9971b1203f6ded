# ruff: noqa: E501 - the scenario tables read best one step a line.
"""The load generator (bench/loadtest) writes what the services write.

1. A clone is what the services write: each scenario is recorded as a
   template and cloned into one municipality (moved in time where the
   generator would move it), and taken through the real services and process
   directly for another at the clone's times. Every row each wrote, in every
   table, must be the same, column by column, once ids, people, the
   municipality and case numbers are replaced by what they stand for.
2. A generated database as a whole: every chain verifies, each live row
   equals its latest history row, the scenarios and stages are there, every
   stage's page renders, and generated agreements go on through the real step
   views over HTTP (a review, both decisions through the flow's join, a
   follow-up).
3. The generator restates no rule: none of the services' audit reasons, due
   days, follow-up dates or viewflow tokens is written in its source."""

import ast
import datetime
import json
import random
import re
from pathlib import Path

import polib
import pytest
from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from viewflow.workflow.models import Task

from accounts.history import audit_context
from accounts.models import Organisation, User
from bench.loadtest import scenarios as s
from bench.loadtest.generate import Spec, plan, record_book, same_calendar, write
from bench.loadtest.templates import NOT_CLONED, Recording, all_tables, capture, keep_history_times, table_maxima
from cases.audit.tables import HASH_FIELD_NAMES
from cases.audit.verify import verify_audit
from cases.models import Agreement, Decision, FollowUp, Party, PlanPeriod, Stage
from tests.perf.conftest import Load, at, quiet, run_script, scripted
from tests.workflows.helpers import open_task, sign_post, step_url
from workflows import services as workflow_services
from workflows.notifications import notifications_suppressed

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
R, M = Party.REGION, Party.MUNICIPALITY
APPROVED, RETURNED, REJECTED = Decision.Outcome.APPROVED, Decision.Outcome.RETURNED, Decision.Outcome.REJECTED
WEEKS_EARLIER = datetime.timedelta(weeks=-3, seconds=1234)

# (moment, action, arguments): what happens to one agreement (see tests/perf/conftest.run_script).
# In August and September: no holiday near, so that the generator may move them (see generate.same_calendar).
SENT = [(at(2024, 8, 5), "open"), (at(2024, 8, 6), "draft", 2), (at(2024, 8, 7), "submit")]
ACCEPTED = [*SENT, (at(2024, 8, 12), "review", True, False)]
SCENARIOS = {
    "withdrawn in drafting": ("2023–2026", [*SENT[:2], (at(2024, 8, 7), "withdraw")]),
    "changes requested, edited, sent again": (
        "2023–2026",
        [
            (at(2024, 8, 5), "open"),
            (at(2024, 8, 6), "draft", 3),
            (at(2024, 8, 7), "submit"),
            (at(2024, 8, 12), "review", False, True),
            (at(2024, 8, 14), "edit", 1),
            (at(2024, 8, 15), "submit"),
        ],
    ),
    "half decided, then withdrawn": (
        "2023–2026",
        [*ACCEPTED, (at(2024, 9, 2), "decide", M, APPROVED, False), (at(2024, 9, 3), "withdraw")],
    ),
    "returned by the region": ("2023–2026", [*ACCEPTED, (at(2024, 9, 2), "decide", R, RETURNED, False)]),
    "rejected by the municipality after the region approved": (
        "2023–2026",
        [*ACCEPTED, (at(2024, 9, 2), "decide", R, APPROVED, False), (at(2024, 9, 5), "decide", M, REJECTED, True)],
    ),
    "signed by one party": (
        "2023–2026",
        [
            *ACCEPTED,
            (at(2024, 9, 2), "decide", M, APPROVED, False),
            (at(2024, 9, 3), "decide", R, APPROVED, False),
            (at(2024, 9, 10), "sign", M),
        ],
    ),
    "in force, follow-ups (one returned), closed": (
        "2019–2022",
        [
            (at(2019, 2, 1), "open"),
            (at(2019, 2, 2), "draft", 2),
            (at(2019, 2, 4), "submit"),
            (at(2019, 2, 6), "review", True, False),
            (at(2019, 3, 1), "decide", R, APPROVED, False),
            (at(2019, 3, 4), "decide", M, APPROVED, False),
            (at(2019, 3, 11), "sign", R),
            (at(2019, 3, 12), "sign", M),
            (at(2019, 10, 1, 6), "fire", 2019),
            (at(2019, 10, 9), "write", False, "Vi har börjat."),
            (at(2019, 10, 14), "write", True, "Det går bra."),
            (at(2019, 10, 21), "review_fu", True),
            (at(2020, 10, 1, 6), "fire", 2020),
            (at(2020, 10, 9), "write", True, "Det går bra."),
            (at(2020, 10, 20), "review_fu", False),
            (at(2020, 10, 26), "write", True, "Bokbussen går varje vecka."),
            (at(2020, 10, 30), "review_fu", True),
            (at(2021, 10, 1, 6), "fire", 2021),
            (at(2021, 10, 11), "write", True, "Det går bra."),
            (at(2021, 10, 20), "review_fu", True),
            (at(2022, 10, 1, 6), "fire", 2022),
            (at(2022, 10, 10), "write", True, "Klart."),
            (at(2022, 10, 20), "review_fu", True),
            (at(2023, 1, 1, 1), "close"),
        ],
    ),
}
# A renewal: the closed agreement above, renewed into 2023–2026 and sent for review.
RENEWAL = [(at(2023, 2, 6), "renew"), (at(2023, 2, 7), "edit", 1), (at(2023, 2, 8), "submit")]


# ---------------------------------------------------------------------------
# 1. A clone is what the services write
# ---------------------------------------------------------------------------


class Normalised:
    """Rows written by one agreement's life, with everything that differs between
    two municipalities, two sets of people and two sets of ids replaced by what it
    stands for: a row's own id by (table, position), a user by their role, the
    municipality, names, addresses and case numbers by a word. Timestamps and dates
    stay: the two runs happen at the same moments."""

    def __init__(self, load, captured, municipality):
        self.captured = captured
        ref = load.reference
        people = {
            "coordinator": ref.coordinators[ref.region_of[municipality.pk].pk][0],
            "head": ref.heads[municipality.pk],
            "official": ref.officials[municipality.pk],
        }
        self.users = {p.id: role for role, p in people.items()}
        self.words = {p.name: role.upper() for role, p in people.items()}
        self.words |= {p.ip: f"{role}-ip" for role, p in people.items()}
        self.words[municipality.name] = "MUNICIPALITY"
        self.municipality = municipality.pk
        # The signing region that #12's signatures name. The product links no municipality to
        # its region (one region, Dalarna); the national load data has 21, and a coordinator's
        # first region membership need not be the clone's region: any region stands for "REGION".
        self.regions = set(Organisation.objects.filter(kind=Organisation.Kind.REGION).values_list("pk", flat=True))
        self.ids = {}  # table -> {id: (table, position)}
        models = {m._meta.db_table: m for m in apps.get_models(include_auto_created=True)}
        pk_of = {t.name: t.pk for t in all_tables()}
        for table, (columns, rows) in captured.items():
            i = columns.index(pk_of[table])
            self.ids[table] = {row[i]: (table, n) for n, row in enumerate(rows)}
        agreements = captured.get("cases_agreement", ([], []))
        for n, row in enumerate(agreements[1]):
            self.words[row[agreements[0].index("case_number")]] = f"CASE-{n}"
        # A rendered file (the decision material) is bytes: a clone's are its template's,
        # printed with the template's municipality and case number, so its hashes and
        # size differ from a direct run's. They stand for "the n-th file" here.
        for table, column in FILE_HASHES:
            columns, rows = captured.get(table, ([], []))
            for n, row in enumerate(rows):
                self.words.setdefault(row[columns.index(column)], f"{column.upper()}-{n}")
        self.models = models

    def _id(self, table, value):
        return self.ids.get(table, {}).get(value, value)

    def _text(self, text):
        for word in sorted(self.words, key=len, reverse=True):
            text = text.replace(word, self.words[word])
        return text

    def cell(self, model, column, value):
        if value is None:
            return None
        fields = {f.column: f for f in model._meta.concrete_fields}
        field = fields[column]
        table = model._meta.db_table
        if field.primary_key:
            return self._id(table, value)
        if (table, column) in FILE_CONTENT:
            return "FILE-CONTENT"
        if field.is_relation and isinstance(value, str):  # a stored file's chunk names its file by hash
            return self._text(value)
        if field.is_relation:
            target = field.related_model._meta.db_table
            if target == User._meta.db_table and target not in self.ids:
                return self.users.get(value, value)
            if target == Organisation._meta.db_table:
                if value in self.regions:
                    return "REGION"
                return "MUNICIPALITY" if value == self.municipality else value
            return self._id(target, value)
        if column == "id" and hasattr(model, "instance_type"):  # a history row's object
            return self._id(model.instance_type._meta.db_table, value)
        if column == "history_task_id":
            return self._id(Task._meta.db_table, value)
        if table == Task._meta.db_table and column == "token":
            return re.sub(r"/(\d+)_", lambda m: f"/{self._id(table, int(m.group(1)))}_", value)
        if table == Task._meta.db_table and column == "owner_permission_obj_pk":
            return "MUNICIPALITY" if value == str(self.municipality) else value
        if column == "content" and "revision" in table:
            return [{**area, "id": self._id("cases_collaborationarea", area["id"])} for area in json.loads(value)]
        if isinstance(value, str):
            return self._text(value)
        return value

    def tables(self):
        found = {}
        for table, (columns, rows) in self.captured.items():
            model = self.models[table]
            found[table] = [
                tuple(self.cell(model, c, v) for c, v in zip(columns, row, strict=True) if c not in HASH_FIELD_NAMES)
                for row in rows
            ]
        return found


# The columns that hold a rendered file's hashes, and its bytes and size (see Normalised).
FILE_HASHES = [
    ("cases_agreementdocument", "sha256"),
    ("cases_agreementdocument", "fingerprint"),
    ("storage_storedfile", "sha256"),
]
FILE_CONTENT = {
    ("cases_agreementdocument", "size"),
    ("cases_historicalagreementdocument", "size"),
    ("storage_storedfile", "size"),
    ("storage_storedfilechunk", "data"),
}


def _written(run):
    """{table: (columns, rows)} of what ``run()`` wrote."""
    with connection.cursor() as cursor:
        before = table_maxima(cursor)
    run()
    with connection.cursor() as cursor:
        return capture(cursor, before)


def _actors(load, municipality):
    ref = load.reference
    person = {
        "coordinator": ref.coordinators[ref.region_of[municipality.pk].pk][0],
        "head": ref.heads[municipality.pk],
        "official": ref.officials[municipality.pk],
    }
    return {role: s.Actor(User.objects.get(pk=p.id), p.ip) for role, p in person.items()}


def _direct(load, script, municipality, period, *, shift=datetime.timedelta(0), predecessor=None):
    """``script`` through the real services and process for ``municipality``, moved by ``shift``."""
    keep_history_times()
    moved = [(moment + shift, action, *args) for moment, action, *args in script]
    with s.Clock() as clock:
        d = s.Driver(
            clock, municipality=municipality, period=period, rng=random.Random(1), **_actors(load, municipality)
        )
        run_script(d, moved, predecessor=predecessor)
    return d.agreement


def _open(*periods):
    """Open closed periods for new agreements (as the generator's stand-ins are), before a direct run."""
    for period in periods:
        if not period.is_active:
            with audit_context(reason="Opened for a test"):
                period.is_active = True
                period.save()


def _clone_and_direct(load, name, script, period, shift, into=None):
    """Clone the template of ``script`` (recorded in ``period``) into ``into`` (default the
    same period), and run it directly there at the clone's times."""
    into = into or period
    clone_in, direct_in = load.municipality(3), load.municipality(4)
    template = _template(name, script, period)
    shift = shift if not template.fixed_in_time else datetime.timedelta(0)
    assert same_calendar(template, shift), "a shift the generator makes"
    cloned = _written(lambda: load._write([Spec(template, clone_in, into, shift, name)]))
    _open(into)
    direct = _written(lambda: _direct(load, script, direct_in, into, shift=shift))
    return Normalised(load, cloned, clone_in).tables(), Normalised(load, direct, direct_in).tables()


def _template(name, script, period):
    with Recording([period]) as rec:
        return rec.record(name, scripted(script), period=period, start=script[0][0])


def _assert_same(cloned, direct):
    assert sorted(cloned) == sorted(direct), "the same tables"
    for table, rows in direct.items():
        assert len(cloned[table]) == len(rows), table
        for clone_row, direct_row in zip(cloned[table], rows, strict=True):
            assert clone_row == direct_row, table


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_a_clone_is_what_the_services_write(name, load):
    period_name, script = SCENARIOS[name]
    cloned, direct = _clone_and_direct(load, name, script, load.periods[period_name], WEEKS_EARLIER)
    _assert_same(cloned, direct)
    assert "viewflow_task" in direct and any("historical" in t for t in direct)
    assert verify_audit().intact


def test_a_clone_in_another_period_is_what_the_services_write_there(load):
    """An attempt recorded in 2023–2026 and cloned four years (209 weeks) earlier, into
    2019–2022: that period's name, priorities (their titles in the revision) and case-number year."""
    _period, script = SCENARIOS["changes requested, edited, sent again"]
    cloned, direct = _clone_and_direct(
        load, "moved", script, load.periods["2023–2026"], datetime.timedelta(weeks=-209), into=load.periods["2019–2022"]
    )
    _assert_same(cloned, direct)
    agreement = Agreement.objects.get(municipality=load.municipality(3), plan_period__name="2019–2022")
    assert agreement.case_number.split()[1].startswith("2020/")  # opened in August 2020
    titles = {t for area in agreement.revisions.first().content for t in area["priorities"]}
    assert titles and titles <= set(agreement.plan_period.priorities.values_list("title", flat=True))


def test_a_renewal_clone_refers_to_its_predecessors_clone(load):
    """A renewal's template refers to its predecessor's rows (the agreement, the areas
    copied, its case number in the history's reason): the clone to the predecessor's clone."""
    old, new = load.periods["2019–2022"], load.periods["2023–2026"]
    closed = SCENARIOS["in force, follow-ups (one returned), closed"][1]
    with Recording([old, new]) as rec:
        parent = rec.record("closed", scripted(closed), period=old, start=closed[0][0], town="alfa", keep=True)
        child = rec.record("renewal", scripted(RENEWAL), period=new, start=RENEWAL[0][0], town="alfa", parent=parent)
    clone_in, direct_in = load.municipality(5), load.municipality(6)

    def clones():
        load._write(
            [
                Spec(parent, clone_in, old, datetime.timedelta(0), "closed", key=("p",)),
                Spec(child, clone_in, new, datetime.timedelta(0), "renewal", parent=("p",)),
            ]
        )

    def direct():
        predecessor = _direct(load, closed, direct_in, old)
        _direct(load, RENEWAL, direct_in, new, predecessor=predecessor)

    cloned = Normalised(load, _written(clones), clone_in).tables()
    _open(old, new)
    directly = Normalised(load, _written(direct), direct_in).tables()
    _assert_same(cloned, directly)
    renewed = Agreement.objects.get(municipality=clone_in, plan_period=new)
    assert renewed.predecessor.municipality == clone_in and renewed.predecessor.plan_period == old
    assert {a.copied_from.agreement_id for a in renewed.areas.all()} == {renewed.predecessor_id}
    reasons = set(renewed.areas.first().history.values_list("history_change_reason", flat=True))
    assert any(renewed.predecessor.case_number in (reason or "") for reason in reasons), reasons
    assert verify_audit().intact


# ---------------------------------------------------------------------------
# 2. A generated database as a whole
# ---------------------------------------------------------------------------

AGREEMENTS = 800


@pytest.fixture(scope="module")
def generated(load_reference, django_db_blocker):
    """A small load on this folder's reference data: 800 agreements over 2019–2030."""
    with django_db_blocker.unblock(), transaction.atomic():
        reference = Load(load_reference).reference
        now = timezone.now()
        book = record_book(reference, now=now, seed=3, variety=0, log=quiet)
        specs = plan(reference, book, agreements=AGREEMENTS, now=now, seed=3)
        result = write(reference, specs, parallel=False, seed=3, log=quiet)
        result.book = book
        yield result
        transaction.set_rollback(True)


def test_the_scenarios_and_stages_are_there(generated):
    assert Agreement.objects.count() == generated.agreements == AGREEMENTS
    assert sum(generated.kinds.values()) == AGREEMENTS
    # Every kind of attempt was recorded within a plan period (those with decisions only there: the
    # services refuse a decision before its period begins); the most common of them are in this small load.
    assert set(generated.book.failed["within"]) == set(s.FAILED)
    assert set(generated.book.failed["before"]) < set(s.FAILED)
    assert {"withdrawn_drafting", "withdrawn_review", "withdrawn_after_changes", "closed", "in_force"} <= set(
        generated.kinds
    ), generated.kinds
    stages = set(Agreement.objects.values_list("stage", flat=True))
    assert set(Stage.values) == stages
    rejected = sum(n for kind, n in generated.kinds.items() if kind.startswith("rejected"))
    assert Agreement.objects.filter(stage=Stage.REJECTED).count() == rejected
    assert Agreement.objects.filter(predecessor__isnull=False).exists()
    # Every agreement has its process, every human task its due date and its owner permission on the municipality.
    assert Task.objects.filter(process__agreementprocess__isnull=True).count() == 0
    humans = Task.objects.filter(flow_task_type="HUMAN")
    assert humans.filter(deadline__isnull=True).count() == 0
    assert humans.exclude(owner_permission__startswith="accounts.").count() == 0
    for agreement in Agreement.objects.filter(stage=Stage.IN_FORCE)[:20]:
        statuses = set(
            Task.objects.filter(process__agreementprocess__agreement=agreement).values_list("status", flat=True)
        )
        assert statuses & {"SCHEDULED", "NEW"}, agreement
    assert generated.history_rows > 5 * AGREEMENTS


def test_every_chain_verifies(generated):
    report = verify_audit()
    assert report.intact, [(c.table.table, c.first_broken_id) for c in report.chains if not c.intact]


def test_each_live_row_equals_its_latest_history_row(generated):
    for model in apps.get_models():
        manager = getattr(model._meta, "simple_history_manager_attribute", None)
        if manager is None or model._meta.db_table in NOT_CLONED or not model.objects.exists():
            continue
        history = getattr(model, manager)
        kept = {f.attname for f in history.model._meta.concrete_fields}
        fields = [f.attname for f in model._meta.concrete_fields if f.attname in kept]
        live = {row["id"]: row for row in model.objects.values(*fields)}
        latest = {row["id"]: row for row in history.order_by("id", "-history_id").distinct("id").values(*fields)}
        assert live == latest, model._meta.label


@pytest.mark.parametrize("stage", Stage.values)
def test_a_generated_agreement_in_each_stage_renders(generated, client, stage):
    agreement = Agreement.objects.filter(stage=stage).order_by("pk").first()
    assert agreement is not None, f"no agreement at {stage} in the load"
    head = User.objects.get(memberships__organisation=agreement.municipality, memberships__role="cultural_head")
    for user in (User.objects.filter(memberships__role="coordinator").first(), head):
        client.force_login(user)
        for name in ("workflows:agreement", "workflows:agreement_timeline"):
            page = client.get(reverse(name, args=[agreement.pk]))
            assert page.status_code == 200, (name, stage)
            assert agreement.case_number in page.content.decode()


def _post(client, task, data):
    with notifications_suppressed():
        response = client.post(step_url(task), data)
    assert response.status_code == 302, response.content.decode()[:2000]


def _open_steps(agreement):
    return {t.flow_task.name for t in Task.objects.filter(process__agreementprocess__agreement=agreement, status="NEW")}


def _people(agreement):
    head = User.objects.get(memberships__organisation=agreement.municipality, memberships__role="cultural_head")
    return User.objects.filter(memberships__role="coordinator").first(), head


def test_a_generated_draft_is_accepted_through_the_real_step_view(generated, client):
    """The review step: the flow splits into both decisions (tokens of the new tasks)."""
    agreement = Agreement.objects.filter(stage=Stage.REVIEW).order_by("pk").first()
    _coordinator, head = _people(agreement)
    client.force_login(head)
    page = client.get(reverse("workflows:agreement", args=[agreement.pk]))
    assert step_url(open_task(agreement, "review")) in page.content.decode()
    _post(client, open_task(agreement, "review"), {"verdict": "accept", "comment": ""})
    agreement.refresh_from_db()
    assert agreement.stage == Stage.APPROVAL
    assert _open_steps(agreement) == {"region_decision", "municipal_decision"}
    assert verify_audit().intact


def test_a_generated_agreement_is_decided_and_signed_through_the_real_step_views(generated, client):
    """An agreement of the current period in approval or signing is taken on to in
    force: the flow's joins find the parallel branches by the tokens the clone was given."""
    agreement = (
        Agreement.objects.filter(stage__in=[Stage.APPROVAL, Stage.SIGNING], plan_period__name="2023–2026")
        .order_by("stage", "pk")
        .first()
    )
    assert agreement is not None, "an agreement under way in the current period"
    coordinator, head = _people(agreement)
    today = timezone.localdate().isoformat()
    decision = {"meeting_date": today, "paragraph": "§ 7", "outcome": "approved"}
    steps = [
        ("municipal_decision", head, {**decision, "body": "Kommunstyrelsen"}),
        ("region_decision", coordinator, {**decision, "body": "Kultur- och bildningsnämnden"}),
        ("sign_municipality", head, "sign"),
        ("sign_region", coordinator, "sign"),
    ]
    for user in (coordinator, head):  # generated people have no password; signing asks for one
        user.set_password("signatory-password")
        user.save()
    taken = 0
    for step, user, data in steps:
        agreement.refresh_from_db()
        if step in _open_steps(agreement):
            client.force_login(user)
            if data == "sign":
                data = sign_post(agreement, password="signatory-password")
            _post(client, open_task(agreement, step), data)
            taken += 1
    agreement.refresh_from_db()
    assert taken and agreement.stage == Stage.IN_FORCE, (taken, agreement.stage)
    assert Task.objects.filter(process__agreementprocess__agreement=agreement, status="SCHEDULED").exists()
    assert verify_audit().intact


def test_a_generated_follow_up_is_handed_in_over_http(generated, client):
    open_follow_ups = [
        a for a in Agreement.objects.filter(stage=Stage.IN_FORCE).order_by("pk") if "write_follow_up" in _open_steps(a)
    ]
    assert open_follow_ups, "an agreement in force with this year's follow-up open"
    agreement = open_follow_ups[0]
    follow_up = FollowUp.objects.filter(agreement=agreement).order_by("-year").first()
    _coordinator, head = _people(agreement)
    client.force_login(head)
    data = {"submit_follow_up": "1"}
    for entry in follow_up.entries.all():
        data[f"progress_{entry.area_id}"] = "on_track"
        data[f"narrative_{entry.area_id}"] = "Det går bra."
    _post(client, open_task(agreement, "write_follow_up"), data)
    assert "review_follow_up" in _open_steps(agreement)
    assert verify_audit().intact


def test_a_new_agreement_after_the_load_gets_the_next_case_number(generated):
    coordinator = User.objects.filter(memberships__role="coordinator").first()
    period = PlanPeriod.objects.get(name="2027–2030")
    taken = set(Agreement.objects.live().filter(plan_period=period).values_list("municipality", flat=True))
    free = Organisation.objects.filter(kind=Organisation.Kind.MUNICIPALITY).exclude(pk__in=taken).first()
    with notifications_suppressed():
        fresh = workflow_services.agreement_open(actor=coordinator, municipality=free, plan_period=period, title="Ny")
    assert Agreement.objects.filter(case_number=fresh.case_number).count() == 1
    assert verify_audit().intact


def test_the_command_refuses_a_test_database(monkeypatch):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    monkeypatch.setenv("DATABASE_URL", "postgres://unused/test_database")  # set: the command would start again without
    with pytest.raises(CommandError, match="test database"):
        call_command("generate_load_data", "--agreements", "10")


# ---------------------------------------------------------------------------
# 3. The generator restates no rule
# ---------------------------------------------------------------------------


def _translated(node):
    """The msgids of the ``_("…")`` calls within ``node``."""
    return {
        inner.args[0].value
        for inner in ast.walk(node)
        if isinstance(inner, ast.Call) and getattr(inner.func, "id", None) in ("_", "gettext", "gettext_lazy")
    }


def _audit_reasons():
    """Every reason the services give history: the catalogue (accounts/audit_reasons.py),
    and any still written at an ``audit_context(reason=…)`` in accounts/, cases/ and
    workflows/ (the translated strings in it or in the variables it names within the
    same function); with their Swedish translations."""
    reasons = _translated(ast.parse((ROOT / "accounts" / "audit_reasons.py").read_text(encoding="utf-8")))
    for folder in ("accounts", "cases", "workflows"):
        for path in (ROOT / folder).rglob("*.py"):
            for function in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                for call in ast.walk(function):
                    if not (isinstance(call, ast.Call) and getattr(call.func, "id", None) == "audit_context"):
                        continue
                    for keyword in (k for k in call.keywords if k.arg == "reason"):
                        reasons |= _translated(keyword.value)
                        names = {n.id for n in ast.walk(keyword.value) if isinstance(n, ast.Name)}
                        for assign in ast.walk(function):
                            if isinstance(assign, ast.Assign) and any(
                                isinstance(t, ast.Name) and t.id in names for t in assign.targets
                            ):
                                reasons |= _translated(assign.value)
    catalogue = {e.msgid: e.msgstr for e in polib.pofile(str(ROOT / "locale/sv/LC_MESSAGES/django.po"))}
    return reasons | {catalogue[r] for r in reasons if catalogue.get(r)}


def _as_written(reason):
    """A pattern for ``reason`` as code could write it: its placeholders ("Follow-up
    %(year)s accepted") may be written any way ("Follow-up {year} accepted")."""
    parts = [re.escape(part) for part in re.split(r"%\(\w+\)s", reason)]
    return re.compile(".{0,40}?".join(p for p in parts if p))


def test_the_generator_writes_no_audit_reason_nor_rule_of_the_services():
    reasons = _audit_reasons()
    assert len(reasons) > 20, reasons  # the services' reasons were found (and their Swedish)
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "bench" / "loadtest").rglob("*.py"))
    copied = {reason for reason in reasons if _as_written(reason).search(source)}
    assert not copied, f"the generator restates the services' audit reasons: {copied}"
    for rule in ("STEP_DUE_DAYS", "FOLLOW_UP_OPENS", "follow_up_date", "next_follow_up_year", "Token(", "split_token"):
        assert rule not in source, f"the generator restates a rule: {rule}"
    assert settings.STEP_DUE_DAYS  # the names above are the rules' real names
