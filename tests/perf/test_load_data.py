# ruff: noqa: B023 - run_step() calls each step's lambda at once, inside the loop iteration.
"""The load-data generator (workflows/loaddata.py) writes what the services
and the flow write.

Each scenario is taken twice: once through the real services and the real
viewflow process (with time travel for the yearly timers), once through the
generator's ``Story``. The two agreements must have the same shape: the same
tasks (node, type, status, owner, owner permission on the municipality's row,
token, ``previous`` links, due date), the same process state, the same domain
rows and the same history rows, table by table, with the same reasons, actors
and tasks. Then a generated database is checked as a whole: the hash chains
verify, the derived groups are what ``sync_user_groups`` derives, and a
generated agreement can be driven on over HTTP by the real step views."""

import datetime
import re

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from viewflow.workflow.models import Task

from accounts.models import Membership, Organisation, Role, User
from accounts.permissions import sync_user_groups
from cases.agreements import services as case_services
from cases.audit import log
from cases.audit.verify import verify_audit
from cases.follow_ups import services as follow_up_services
from cases.models import Agreement, Decision, Party, PlanPeriod, Stage
from tests.factories import municipality
from tests.perf.conftest import at, load_rows, story_from_script
from tests.workflows.helpers import open_task, step_url
from workflows import demo, loaddata
from workflows import services as workflow_services
from workflows.notifications import notifications_suppressed
from workflows.runner import run_step

pytestmark = pytest.mark.django_db
R, M = Party.REGION, Party.MUNICIPALITY
APPROVED, RETURNED, REJECTED = Decision.Outcome.APPROVED, Decision.Outcome.RETURNED, Decision.Outcome.REJECTED

# (moment, action, arguments): what happens to one agreement.
SCENARIOS = {
    "withdrawn in drafting": [(at(2024, 2, 1), "open"), (at(2024, 2, 2), "draft", 2), (at(2024, 2, 3), "withdraw")],
    "changes requested, edited, sent again": [
        (at(2024, 2, 1), "open"),
        (at(2024, 2, 2), "draft", 3),
        (at(2024, 2, 3), "submit"),
        (at(2024, 2, 6), "review", False, True),
        (at(2024, 2, 8), "edit", 1),
        (at(2024, 2, 9), "submit"),
    ],
    "half decided, then withdrawn": [
        (at(2024, 2, 1), "open"),
        (at(2024, 2, 2), "draft", 2),
        (at(2024, 2, 3), "submit"),
        (at(2024, 2, 6), "review", True, False),
        (at(2024, 3, 1), "decide", M, APPROVED, False),
        (at(2024, 3, 2), "withdraw"),
    ],
    "returned by the region": [
        (at(2024, 2, 1), "open"),
        (at(2024, 2, 2), "draft", 1),
        (at(2024, 2, 3), "submit"),
        (at(2024, 2, 6), "review", True, False),
        (at(2024, 3, 1), "decide", R, RETURNED, False),
    ],
    "rejected by the municipality after the region approved": [
        (at(2024, 2, 1), "open"),
        (at(2024, 2, 2), "draft", 2),
        (at(2024, 2, 3), "submit"),
        (at(2024, 2, 6), "review", True, False),
        (at(2024, 3, 1), "decide", R, APPROVED, False),
        (at(2024, 3, 5), "decide", M, REJECTED, True),
    ],
    "signed by one party": [
        (at(2024, 2, 1), "open"),
        (at(2024, 2, 2), "draft", 2),
        (at(2024, 2, 3), "submit"),
        (at(2024, 2, 6), "review", True, False),
        (at(2024, 3, 1), "decide", M, APPROVED, False),
        (at(2024, 3, 2), "decide", R, APPROVED, False),
        (at(2024, 3, 9), "sign", M),
    ],
    "in force, follow-ups (one returned), closed": [
        (at(2023, 2, 1), "open"),
        (at(2023, 2, 2), "draft", 2),
        (at(2023, 2, 3), "submit"),
        (at(2023, 2, 6), "review", True, False),
        (at(2023, 3, 1), "decide", R, APPROVED, False),
        (at(2023, 3, 2), "decide", M, APPROVED, False),
        (at(2023, 3, 9), "sign", R),
        (at(2023, 3, 10), "sign", M),
        (at(2023, 10, 1, 6), "fire", 2023),
        (at(2023, 10, 9), "write", False, "Vi har börjat."),
        (at(2023, 10, 12), "write", True, "Det går bra."),
        (at(2023, 10, 20), "review_fu", True),
        (at(2024, 10, 1, 6), "fire", 2024),
        (at(2024, 10, 9), "write", True, "Det går bra."),
        (at(2024, 10, 20), "review_fu", False),
        (at(2024, 10, 25), "write", True, "Bokbussen går varje vecka."),
        (at(2024, 10, 30), "review_fu", True),
        (at(2025, 10, 1, 6), "fire", 2025),
        (at(2025, 10, 9), "write", True, "Det går bra."),
        (at(2025, 10, 20), "review_fu", True),
        (at(2026, 10, 1, 6), "fire", 2026),
        (at(2026, 10, 9), "write", True, "Klart."),
        (at(2026, 10, 20), "review_fu", True),
        (at(2027, 1, 1, 1), "close"),
    ],
}
WITHDRAW_REASON = "Kommunen vill avvakta."


def _areas(agreement, count):
    return [
        case_services.AreaInput(
            title=title,
            goal=goal,
            region_commitment=region,
            municipality_commitment=municipal,
            contacts="Anna Berg, regional samordnare",
            priorities=list(agreement.plan_period.priorities.filter(code=code)),
        )
        for title, code, goal, region, municipal in loaddata.AREAS[:count]
    ]


def run_real(script, *, organisation, coordinator, head, time_machine):
    """The scenario through the services and the process, as the step views run them."""
    agreement = None

    def step(name, actor, perform, complete=True):
        run_step(agreement=agreement, step_name=name, actor=actor, perform=perform, complete=complete)

    for moment, action, *args in script:
        time_machine.move_to(moment, tick=False)
        if action == "open":
            agreement = demo.open_agreement(
                coordinator=coordinator, municipality=organisation, plan_period=PlanPeriod.objects.get(name="2023–2026")
            )
        elif action == "draft":
            areas = _areas(agreement, args[0])
            step(
                "draft",
                coordinator,
                lambda a=areas: case_services.agreement_save_draft(
                    actor=coordinator, agreement=agreement, title=agreement.title, areas=a
                ),
                complete=False,
            )
        elif action == "edit":
            current = list(agreement.active_areas().prefetch_related("priorities"))
            areas = [
                case_services.AreaInput(
                    id=a.pk,
                    title=a.title,
                    goal=f"{a.goal} (rev 2)" if i < args[0] else a.goal,
                    region_commitment=a.region_commitment,
                    municipality_commitment=a.municipality_commitment,
                    contacts=a.contacts,
                    priorities=list(a.priorities.all()),
                )
                for i, a in enumerate(current)
            ]
            step(
                "draft",
                coordinator,
                lambda a=areas: case_services.agreement_save_draft(
                    actor=coordinator, agreement=agreement, title=agreement.title, areas=a
                ),
                complete=False,
            )
        elif action == "submit":
            step(
                "draft",
                coordinator,
                lambda: case_services.agreement_submit_for_review(actor=coordinator, agreement=agreement),
            )
        elif action == "review":
            accept, area_comment = args
            if accept:
                step("review", head, lambda: case_services.review_accept(actor=head, agreement=agreement))
            else:
                comments = [(None, "Vi vill att målen blir tydligare och mätbara.")]
                if area_comment:
                    comments.append((agreement.active_areas().order_by("position").first(), "Beskriv uppföljningen."))
                step(
                    "review",
                    head,
                    lambda c=comments: case_services.review_request_changes(
                        actor=head, agreement=agreement, comments=c
                    ),
                )
        elif action == "decide":
            party, outcome, ends = args
            actor = coordinator if party == R else head
            step(
                "region_decision" if party == R else "municipal_decision",
                actor,
                lambda: case_services.decision_record(
                    actor=actor,
                    agreement=agreement,
                    party=party,
                    body="Kultur- och bildningsnämnden" if party == R else "Kommunstyrelsen",
                    meeting_date=moment.date(),
                    paragraph="§ 12",
                    outcome=outcome,
                    ends_agreement=ends,
                ),
            )
        elif action == "sign":
            party = args[0]
            actor = coordinator if party == R else head
            step(
                "sign_region" if party == R else "sign_municipality",
                actor,
                lambda: case_services.signature_record(
                    actor=actor,
                    agreement=agreement,
                    party=party,
                    signatory_name=actor.full_name,
                    signatory_title=actor.title,
                    signed_on=moment.date(),
                ),
            )
        elif action in ("fire", "close"):
            call_command("workflow_timers", verbosity=0)
        elif action == "write":
            submit, narrative = args
            follow_up = agreement.follow_ups.order_by("-year").first()
            entries = [
                follow_up_services.EntryInput(area_id=e.area_id, progress="on_track", narrative=narrative)
                for e in follow_up.entries.all()
            ]
            step(
                "write_follow_up",
                head,
                lambda: follow_up_services.follow_up_report(
                    actor=head, follow_up=follow_up, entries=entries, submit=submit
                ),
                complete=submit,
            )
        elif action == "review_fu":
            accept = args[0]
            follow_up = agreement.follow_ups.order_by("-year").first()
            step(
                "review_follow_up",
                coordinator,
                lambda: follow_up_services.follow_up_review(
                    actor=coordinator,
                    follow_up=follow_up,
                    accept=accept,
                    comment="" if accept else "Beskriv gärna vad som hänt under året.",
                ),
            )
        elif action == "withdraw":
            workflow_services.agreement_withdraw(actor=coordinator, agreement=agreement, reason=WITHDRAW_REASON)
        agreement.refresh_from_db()
    return agreement


def _reference(coordinator, heads):
    region = Organisation.objects.get(kind=Organisation.Kind.REGION)
    periods = list(PlanPeriod.objects.order_by("starts_on"))
    priorities = {}
    for period in periods:
        for priority in period.priorities.all():
            priorities.setdefault(period.pk, {})[priority.code] = priority
    municipalities = list(heads)
    return loaddata.Reference(
        region_of={m.pk: region for m in municipalities},
        municipalities=municipalities,
        periods=periods,
        priorities=priorities,
        coordinators={region.pk: [_person(coordinator)]},
        heads={m.pk: _person(head) for m, head in heads.items()},
        officials={m.pk: _person(head) for m, head in heads.items()},
    )


def _person(user):
    # No client address: the services run here without a request (the HTTP path adds one).
    return loaddata.Person(id=user.pk, name=user.full_name, title=user.title, ip=None)


def run_generated(script, *, organisation, coordinator, head, tmp_path):
    """The same scenario through the generator's Story, loaded with COPY."""
    reference = _reference(coordinator, {organisation: head})
    gen = loaddata.Generator(reference=reference, out=loaddata.Output(str(tmp_path)), now=timezone.now())
    pk = story_from_script(
        gen,
        script,
        municipality=organisation,
        period=PlanPeriod.objects.get(name="2023–2026"),
        coordinator=_person(coordinator),
        head=_person(head),
    )
    load_rows(gen)
    return Agreement.objects.get(pk=pk)


def shape(agreement, roles):
    """Everything about an agreement that must not depend on how it was made."""
    tasks = list(Task.objects.filter(process__agreementprocess__agreement=agreement).order_by("pk"))
    index = {task.pk: i for i, task in enumerate(tasks)}

    def token(task):
        return re.sub(r"/(\d+)_", lambda m: f"/{index[int(m.group(1))]}_", str(task.token))

    def role(user_id):
        return roles.get(user_id, user_id)

    task_shape = []
    for task in tasks:
        deadline = getattr(task, "deadline", None)
        task_shape.append(
            (
                task.flow_task.name,
                task.flow_task_type,
                task.status,
                role(task.owner_id),
                task.owner_permission,
                task.owner_permission_obj_pk == str(agreement.municipality_id)
                if task.owner_permission_obj_pk
                else None,
                task.owner_permission_content_type_id is not None,
                (task.started is not None, task.finished is not None, task.scheduled is not None),
                task.assigned,
                token(task),
                sorted(index[p.pk] for p in task.previous.all()),
                (deadline.due_on - timezone.localdate(task.created)).days if deadline else None,
            )
        )
    history = {}
    for src in log.agreement_sources():
        rows = src.model._default_manager.filter(**{src.agreement_path: agreement.pk}).order_by("history_id")
        history[src.key] = [
            (
                row.history_type,
                row.history_change_reason,
                role(row.history_user_id),
                index.get(row.history_task_id, row.history_task_id),
                len(row.priorities.all()) if src.key == "cases.collaborationarea" else None,
            )
            for row in rows
        ]
    process = agreement.process
    return {
        "agreement": (
            agreement.stage,
            agreement.review_round,
            agreement.in_force_since is not None,
            agreement.ended_at is not None,
            bool(agreement.end_reason),
        ),
        "process": (process.status, process.finished is not None, process.flow_class),
        "tasks": task_shape,
        "history": history,
        "rows": {
            "areas": agreement.areas.count(),
            "links": sum(a.priorities.count() for a in agreement.areas.all()),
            "revisions": list(agreement.revisions.values_list("round", flat=True)),
            "comments": [(c.round, c.resolved, c.area_id is None) for c in agreement.comments.order_by("pk")],
            "decisions": list(agreement.decisions.values_list("round", "party", "outcome", "ends_agreement")),
            "signatures": sorted(agreement.signatures.values_list("party", flat=True)),
            "follow_ups": list(agreement.follow_ups.order_by("year").values_list("year", "status")),
            "entries": sorted(
                (e.follow_up.year, e.progress, bool(e.narrative))
                for f in agreement.follow_ups.all()
                for e in f.entries.select_related("follow_up")
            ),
        },
    }


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_generator_writes_what_the_services_write(
    name, coordinator, mora_head, falun_head, time_machine, tmp_path, history_keeps_client_time
):
    script = SCENARIOS[name]
    with notifications_suppressed():
        real = run_real(
            script,
            organisation=municipality("Mora"),
            coordinator=coordinator,
            head=mora_head,
            time_machine=time_machine,
        )
    time_machine.move_to(at(2027, 1, 2), tick=False)
    generated = run_generated(
        script, organisation=municipality("Falun"), coordinator=coordinator, head=falun_head, tmp_path=tmp_path
    )
    real_shape = shape(real, {coordinator.pk: "coordinator", mora_head.pk: "head"})
    generated_shape = shape(generated, {coordinator.pk: "coordinator", falun_head.pk: "head"})
    for part in ("agreement", "process", "rows", "tasks"):
        assert generated_shape[part] == real_shape[part], part
    for key, rows in real_shape["history"].items():
        assert generated_shape["history"][key] == rows, key
    report = verify_audit()
    assert report.intact, [(c.table.table, c.first_broken_id) for c in report.chains if not c.intact]


# ---------------------------------------------------------------------------
# A generated database as a whole
# ---------------------------------------------------------------------------


@pytest.fixture
def generated(db):
    """A small load: 30 municipalities over the 21 regions, 300 agreements."""
    with notifications_suppressed():
        reference = loaddata.ensure_reference(municipalities=30, log=lambda *a: None)
        specs = loaddata.plan(reference, agreements=300, now=timezone.now(), seed=3)
        result = loaddata.write_specs(reference, specs, seed=3, parallel=False, log=lambda *a: None)
    return reference, result


def test_a_generated_database_is_consistent(generated):
    reference, result = generated
    assert Agreement.objects.count() == result.agreements == 300
    assert Organisation.objects.filter(kind=Organisation.Kind.REGION).count() == 21
    assert Organisation.objects.filter(kind=Organisation.Kind.MUNICIPALITY).count() >= 30
    # Every agreement has its process, every human task its due date and its owner permission.
    assert Task.objects.filter(process__agreementprocess__isnull=True).count() == 0
    humans = Task.objects.filter(flow_task_type="HUMAN")
    assert humans.filter(deadline__isnull=True).count() == 0
    assert humans.exclude(owner_permission__startswith="accounts.").count() == 0
    # One live agreement per municipality and period (the database would have refused otherwise),
    # agreements in every stage, and in force ones waiting on a timer.
    stages = set(Agreement.objects.values_list("stage", flat=True))
    assert {Stage.CLOSED, Stage.WITHDRAWN, Stage.IN_FORCE, Stage.DRAFTING, Stage.REVIEW, Stage.APPROVAL} <= stages
    for agreement in Agreement.objects.filter(stage=Stage.IN_FORCE)[:20]:
        statuses = set(
            Task.objects.filter(process__agreementprocess__agreement=agreement).values_list("status", flat=True)
        )
        assert statuses & {"SCHEDULED", "NEW"}, agreement
    # The chains verify.
    report = verify_audit()
    assert report.intact, [(c.table.table, c.first_broken_id) for c in report.chains if not c.intact]
    assert result.history_rows > 10 * result.agreements
    # The groups and guardian permissions are exactly what the permission module derives.
    for membership in Membership.objects.select_related("user").order_by("pk")[
        :: max(1, Membership.objects.count() // 25)
    ]:
        user = membership.user
        before = set(user.groups.values_list("pk", flat=True))
        sync_user_groups(user)
        assert set(user.groups.values_list("pk", flat=True)) == before, membership
    # A new agreement after the load gets the next case number and ids.
    coordinator = User.objects.filter(memberships__role=Role.COORDINATOR).first()
    period = PlanPeriod.objects.get(name="2027–2030")
    taken = set(Agreement.objects.live().filter(plan_period=period).values_list("municipality", flat=True))
    free = Organisation.objects.filter(kind=Organisation.Kind.MUNICIPALITY).exclude(pk__in=taken).first()
    if free is None:  # every municipality has one: the next period then
        period = PlanPeriod.objects.create(
            name="2031–2034", starts_on=datetime.date(2031, 1, 1), ends_on=datetime.date(2034, 12, 31), is_active=True
        )
        free = Organisation.objects.filter(kind=Organisation.Kind.MUNICIPALITY).first()
    with notifications_suppressed():
        fresh = demo.open_agreement(coordinator=coordinator, municipality=free, plan_period=period)
    assert Agreement.objects.filter(case_number=fresh.case_number).count() == 1
    assert verify_audit().intact


def test_a_generated_agreement_goes_on_through_the_real_step_views(generated, client):
    agreement = Agreement.objects.filter(stage=Stage.REVIEW).order_by("pk").first()
    assert agreement is not None
    head = User.objects.get(memberships__organisation=agreement.municipality, memberships__role=Role.CULTURAL_HEAD)
    client.force_login(head)
    task = open_task(agreement, "review")
    page = client.get(reverse("workflows:agreement", args=[agreement.pk]))
    assert page.status_code == 200
    assert step_url(task) in page.content.decode()
    with notifications_suppressed():
        response = client.post(step_url(task), {"verdict": "accept", "comment": ""})
    assert response.status_code == 302
    agreement.refresh_from_db()
    assert agreement.stage == Stage.APPROVAL
    assert {
        t.flow_task.name for t in Task.objects.filter(process__agreementprocess__agreement=agreement, status="NEW")
    } == {
        "region_decision",
        "municipal_decision",
    }
    assert verify_audit().intact
