"""The county overview over HTTP: its figures match the data (stage, who must
act, next due date, what is overdue, the latest follow-up per area, open
action points), filters and sorting work, the CSV export holds exactly the
rows of the page, a municipal user sees only their own municipality (on the
overview and on their start page), and the overview is read with the same
number of queries for one agreement as for many."""

import csv
import datetime
import io
import zoneinfo

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from accounts.models import Role
from cases.follow_ups import services as follow_up_services
from cases.meetings.services import ActionPointInput, action_point_set_status, meeting_record
from cases.models import FollowUpEntry, Stage
from tests.factories import agreement_in_stage, municipality, user_with_role
from tests.workflows.helpers import login
from workflows.runner import run_step
from workflows.views.overview import CSV_HEADERS

from .conftest import sv

pytestmark = pytest.mark.django_db
STOCKHOLM = zoneinfo.ZoneInfo("Europe/Stockholm")
COUNTY = reverse("workflows:county")
COUNTY_CSV = reverse("workflows:county_csv")
TODAY = datetime.date(2024, 3, 25)


def at(day, hour=9):
    return datetime.datetime(day.year, day.month, day.day, hour, tzinfo=STOCKHOLM)


def in_force_with_follow_up(time_machine, coordinator, head, name="Ludvika"):
    """In force since March 2023; the 2023 follow-up handed in, one area delayed,
    the other on track, and waiting for the coordinator's review."""
    time_machine.move_to(at(datetime.date(2023, 3, 1)), tick=False)
    agreement = agreement_in_stage(Stage.IN_FORCE, name, coordinator=coordinator, head=head)
    time_machine.move_to(at(datetime.date(2023, 10, 2)), tick=False)
    call_command("workflow_timers")
    follow_up = agreement.follow_ups.get(year=2023)
    entries = [
        follow_up_services.EntryInput(
            area_id=entry.area_id,
            progress=FollowUpEntry.Progress.DELAYED if "Kulturskola" in entry.area.title else "on_track",
            narrative="Rapport.",
        )
        for entry in follow_up.entries.select_related("area")
    ]
    run_step(
        agreement=agreement,
        step_name="write_follow_up",
        actor=head,
        perform=lambda: follow_up_services.follow_up_report(
            actor=head, follow_up=follow_up, entries=entries, submit=True
        ),
    )
    return agreement


@pytest.fixture
def county(time_machine, coordinator, falun_head, mora_head, ludvika_head):
    """Five municipalities' agreements in 2023–2026 in different stages, a
    meeting with action points, and today = 25 March 2024."""
    ludvika = in_force_with_follow_up(time_machine, coordinator, ludvika_head)
    # Falun's review is due 21 working days later: 21 March.
    time_machine.move_to(at(datetime.date(2024, 2, 21)), tick=False)
    agreements = {
        "Ludvika": ludvika,
        "Falun": agreement_in_stage(Stage.REVIEW, "Falun", coordinator=coordinator, head=falun_head),
        "Mora": agreement_in_stage(Stage.APPROVAL, "Mora", coordinator=coordinator, head=mora_head),
        "Leksand": agreement_in_stage(Stage.DRAFTING, "Leksand", coordinator=coordinator),
        "Rättvik": agreement_in_stage(Stage.REVIEW, "Rättvik", coordinator=coordinator),
    }
    from workflows import services as flow_services

    flow_services.agreement_withdraw(actor=coordinator, agreement=agreements["Rättvik"], reason="Avvaktar.")
    time_machine.move_to(at(datetime.date(2024, 3, 20)), tick=False)
    meeting = meeting_record(
        actor=coordinator,
        held_on=datetime.date(2024, 3, 20),
        place="Falun",
        participants=[municipality("Falun"), municipality("Ludvika")],
        action_points=[
            ActionPointInput(municipality("Falun"), "Svara", "Karin", datetime.date(2024, 3, 22)),
            ActionPointInput(municipality("Ludvika"), "Planera", "Maria", datetime.date(2024, 5, 1)),
            ActionPointInput(municipality("Ludvika"), "Klart snart", "Maria", datetime.date(2024, 3, 21)),
        ],
    )
    action_point_set_status(
        actor=coordinator,
        action_point=meeting.action_points.get(description="Klart snart"),
        status="done",
        reason="Gjort.",
    )
    time_machine.move_to(at(TODAY), tick=False)
    for agreement in agreements.values():
        agreement.refresh_from_db()
    return agreements


def open_deadlines(agreement):
    return sorted(
        task.deadline.due_on
        for task in Task.objects.filter(
            process__agreementprocess__agreement=agreement,
            flow_task_type="HUMAN",
            status__in=[STATUS.NEW, STATUS.ASSIGNED],
        ).select_related("deadline")
    )


def by_name(rows):
    return {row.municipality.name: row for row in rows}


def test_overview_figures_match_the_data(client, coordinator, county):
    login(client, coordinator)
    response = client.get(COUNTY)
    assert response.status_code == 200
    assert response.context["period"].name == "2023–2026"
    rows = by_name(response.context["rows"])
    assert len(rows) == 15  # every municipality, with or without an agreement

    for name, agreement in county.items():
        row = rows[name]
        assert row.agreement == agreement, name
        assert row.stage == agreement.stage, name
        deadlines = open_deadlines(agreement)
        assert row.next_due == (deadlines[0] if deadlines else None), name
        assert [s.due_on for s in row.overdue_steps] == [d for d in deadlines if d < TODAY], name

    # Stage by stage, as built
    assert rows["Falun"].stage == Stage.REVIEW and rows["Rättvik"].stage == Stage.WITHDRAWN
    assert rows["Borlänge"].agreement is None and rows["Borlänge"].stage == "none"
    assert rows["Borlänge"].stage_label == sv("No agreement")
    # Who must act: the roles that may take the open step, for the municipality
    assert rows["Falun"].who == "Kulturchef, Falun"
    assert "Samordnare, Region Dalarna" in rows["Mora"].who
    assert "Kulturchef eller tjänsteperson, Mora" in rows["Mora"].who
    assert rows["Rättvik"].who == "" and rows["Rättvik"].steps == []
    # Overdue: Falun's review (due 21 March) and Ludvika's follow-up review (October 2023)
    assert [r for r in rows if rows[r].is_overdue] == ["Falun", "Ludvika"]
    assert rows["Falun"].next_due == datetime.date(2024, 3, 21)
    assert rows["Ludvika"].overdue_steps[0].due_on < datetime.date(2023, 12, 31)
    # Latest follow-up: Ludvika's 2023, handed in, with each area's status as reported
    ludvika = rows["Ludvika"]
    assert (ludvika.latest_follow_up.year, ludvika.latest_follow_up.status) == (2023, "submitted")
    statuses = {e.area.title: e.progress for e in ludvika.area_statuses}
    assert statuses == {"Kommunalt chefsnätverk inom kultur": "on_track", "Kulturskolan i samverkan": "delayed"}
    assert rows["Mora"].latest_follow_up is None and rows["Mora"].area_statuses == []
    # Open action points (the one marked done is not counted), overdue ones among them
    assert (rows["Falun"].open_action_points, rows["Falun"].overdue_action_points) == (1, 1)
    assert (rows["Ludvika"].open_action_points, rows["Ludvika"].overdue_action_points) == (1, 0)
    assert rows["Mora"].open_action_points == 0

    html = response.content.decode()
    for agreement in county.values():
        assert agreement.case_number in html
    assert "Kulturskolan i samverkan" in html


def test_filters_and_sorting(client, coordinator, county):
    login(client, coordinator)

    def names(**params):
        response = client.get(COUNTY, params)
        assert response.status_code == 200
        return [row.municipality.name for row in response.context["rows"]]

    assert names(stage="review") == ["Falun"]
    assert names(stage="in_force") == ["Ludvika"]
    assert len(names(stage="none")) == 10
    assert names(overdue="on") == ["Falun", "Ludvika"]
    assert names(overdue="on", stage="review") == ["Falun"]
    everyone = names()
    assert everyone[0] == "Avesta" and everyone[-1] == "Älvdalen"  # Swedish order: Ä after Z
    assert everyone.index("Smedjebacken") < everyone.index("Säter")
    # by stage: drafting, review, approval, …, withdrawn, then no agreement
    assert names(sort="stage")[:5] == ["Leksand", "Falun", "Mora", "Ludvika", "Rättvik"]
    # by due date: soonest first, rows without a due date last
    due_order = names(sort="due")
    assert due_order[:4] == ["Ludvika", "Falun", "Leksand", "Mora"]
    # another period: nobody has an agreement in 2027–2030
    from cases.models import PlanPeriod

    later = PlanPeriod.objects.get(name="2027–2030")
    response = client.get(COUNTY, {"plan_period": later.pk})
    assert {row.stage for row in response.context["rows"]} == {"none"}
    # bad input: a clear message, not a 500
    response = client.get(COUNTY, {"plan_period": "999999", "sort": "nonsense"})
    assert response.status_code == 400
    assert "plan_period" in response.context["form"].errors


def read_csv(response):
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment;")
    raw = b"".join(response.streaming_content)
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark: Excel reads the å, ä, ö right
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))


def test_csv_has_exactly_the_rows_of_the_page(client, coordinator, county):
    login(client, coordinator)
    for params in ({}, {"overdue": "on"}, {"stage": "approval"}, {"sort": "due"}):
        page_rows = client.get(COUNTY, params).context["rows"]
        header, *lines = read_csv(client.get(COUNTY_CSV, params))
        with translation.override("sv"):
            assert header == [str(h) for h in CSV_HEADERS]
        assert [line[0] for line in lines] == [row.municipality.name for row in page_rows], params
    header, *lines = read_csv(client.get(COUNTY_CSV, {"overdue": "on"}))
    falun, ludvika = lines
    assert falun[1] == county["Falun"].case_number
    assert falun[2] == county["Falun"].get_stage_display()
    assert falun[4] == "2024-03-21"
    assert falun[8:] == ["1", "1"]
    assert ludvika[6].startswith("2023: ")
    assert "Kulturskolan i samverkan: " in ludvika[7]
    assert ludvika[8:] == ["1", "0"]
    assert client.get(COUNTY_CSV, {"plan_period": "x"}).status_code == 400


def test_municipal_user_sees_only_their_own_municipality(client, mora_head, county):
    login(client, mora_head)
    response = client.get(COUNTY)
    assert [row.municipality.name for row in response.context["rows"]] == ["Mora"]
    html = response.content.decode()
    for other in ("Falun", "Ludvika", "Leksand", "Rättvik"):
        assert county[other].case_number not in html
    _header, *lines = read_csv(client.get(COUNTY_CSV))
    assert [line[0] for line in lines] == ["Mora"]
    # the start page shows the same row above the steps waiting
    inbox = client.get(reverse("workflows:inbox"))
    own = inbox.context["own_overview"]
    assert [row.municipality.name for row in own["rows"]] == ["Mora"]
    assert own["rows"][0].agreement == county["Mora"]
    assert county["Mora"].case_number in inbox.content.decode()
    assert "Ludvika" not in inbox.content.decode() and "Falun" not in inbox.content.decode()
    # the coverage page is for those who see the whole county; so are the menu's county entries
    assert client.get(reverse("workflows:coverage")).status_code == 403
    assert f'href="{reverse("workflows:meetings")}"' in inbox.content.decode()
    assert f'href="{COUNTY}"' not in inbox.content.decode()
    assert f'href="{reverse("workflows:coverage")}"' not in inbox.content.decode()


def test_region_users_have_no_own_row_on_the_start_page(client, coordinator, auditor, county):
    for user in (coordinator, auditor):
        login(client, user)
        assert client.get(reverse("workflows:inbox")).context["own_overview"] is None
        page = client.get(COUNTY)
        assert len(page.context["rows"]) == 15
        for url in (COUNTY, reverse("workflows:meetings"), reverse("workflows:coverage")):
            assert f'href="{url}"' in page.content.decode()  # in the menu
        client.logout()


def count_queries(client, url):
    client.get(url)  # warm up: sessions, content types
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
    assert response.status_code == 200
    return len(queries)


def test_the_overview_needs_as_many_queries_for_one_agreement_as_for_many(
    client, time_machine, coordinator, ludvika_head
):
    in_force_with_follow_up(time_machine, coordinator, ludvika_head)
    time_machine.move_to(at(datetime.date(2024, 3, 20)), tick=False)
    meeting_record(
        actor=coordinator,
        held_on=datetime.date(2024, 3, 20),
        place="Ludvika",
        participants=[municipality("Ludvika")],
        action_points=[ActionPointInput(municipality("Ludvika"), "Planera", "Maria", datetime.date(2024, 3, 21))],
    )
    login(client, coordinator)
    one = {url: count_queries(client, url) for url in (COUNTY, COUNTY_CSV, COUNTY + "?sort=due&overdue=on")}
    client.logout()
    login(client, ludvika_head)
    one_municipal = count_queries(client, COUNTY)
    inbox_one = count_queries(client, reverse("workflows:inbox"))
    client.logout()

    for name, stage in [
        ("Falun", Stage.REVIEW),
        ("Mora", Stage.APPROVAL),
        ("Leksand", Stage.SIGNING),
        ("Borlänge", Stage.DRAFTING),
        ("Avesta", Stage.IN_FORCE),
        ("Hedemora", Stage.REVIEW),
    ]:
        agreement_in_stage(stage, name, coordinator=coordinator)
    in_force_with_follow_up(time_machine, coordinator, user_with_role(Role.CULTURAL_HEAD, "Orsa"), name="Orsa")
    time_machine.move_to(at(datetime.date(2024, 3, 22)), tick=False)
    meeting_record(
        actor=coordinator,
        held_on=datetime.date(2024, 3, 22),
        place="Mora",
        participants=[municipality(n) for n in ("Falun", "Mora", "Ludvika", "Orsa")],
        action_points=[
            ActionPointInput(municipality(n), "Gör något", "Någon", datetime.date(2024, 4, 1))
            for n in ("Falun", "Mora", "Ludvika", "Orsa")
        ],
    )
    time_machine.move_to(at(TODAY), tick=False)
    login(client, coordinator)
    many = {url: count_queries(client, url) for url in one}
    rows = client.get(COUNTY).context["rows"]
    assert sum(1 for row in rows if row.agreement) == 8
    assert sum(1 for row in rows if row.area_statuses) == 2
    assert many == one
    assert max(many.values()) <= 15, many
    client.logout()
    login(client, ludvika_head)
    assert count_queries(client, COUNTY) == one_municipal <= 15
    assert count_queries(client, reverse("workflows:inbox")) == inbox_one
