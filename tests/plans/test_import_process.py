"""An imported agreement lives in the process as one signed in the system does:
in force, its yearly follow-up is scheduled and opens on the same day as for
an agreement signed here on the same date, it shows in the county overview
with its stage and open step, and it can be renewed; closed, its process has
ended, as a closed agreement's process has."""

import datetime
import re
import zoneinfo

import pytest
from django.core.management import call_command
from django.urls import reverse
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from accounts import audit_reasons as reasons
from accounts.models import Role
from cases.models import Agreement, FollowUp, PlanPeriod, Stage
from tests.factories import agreement_in_stage, user_with_role
from tests.workflows.helpers import login, open_task, step_url, task_states
from workflows.flows import AgreementFlow
from workflows.models import AgreementProcess

from .test_import import URL, row, xlsx

pytestmark = pytest.mark.django_db
STOCKHOLM = zoneinfo.ZoneInfo("Europe/Stockholm")


def at(year, month, day, hour=9):
    return datetime.datetime(year, month, day, hour, tzinfo=STOCKHOLM)


def in_force_row(kommunkod="2085", case="RD 2023/0042"):
    return row(
        kommunkod,
        case,
        planperiod="2023–2026",
        regionens_beslutsdatum="2023-03-14",
        kommunens_beslutsdatum="2023-04-02",
        regionen_undertecknade="2023-04-20",
        kommunen_undertecknade="2023-04-22",
    )


def import_over_http(client, rows, name="overenskommelser-2023.xlsx"):
    response = client.post(URL, {"file": xlsx(rows, name=name)})
    assert response.status_code == 200, response.content.decode()
    assert not Agreement.objects.filter(case_number__in=[r["diarienummer"] for r in rows]).exists()  # a dry run
    response = client.post(URL, {"payload": response.context["payload"], "confirm": "1"})
    assert response.status_code == 302, response.content.decode()
    return [Agreement.objects.get(case_number=r["diarienummer"]) for r in rows]


def scheduled_follow_up(agreement):
    return Task.objects.get(
        process__agreementprocess__agreement=agreement, flow_task=AgreementFlow.follow_up_due, status=STATUS.SCHEDULED
    )


def county_row(page, case_number):
    """The cells of the county overview's row of ``case_number``, as text."""
    for tr in re.findall(r"<tr\b[^>]*>(.*?)</tr>", page, re.S):
        if case_number in tr:
            return [
                re.sub(r"<[^>]+>|\s+", " ", cell).strip() for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", tr, re.S)
            ]
    raise AssertionError(f"{case_number} is not in the county overview")


def test_an_imported_agreement_in_force_gets_its_follow_ups_as_one_signed_here(client, coordinator, mora_head):
    import time_machine

    ludvika_head = user_with_role(Role.CULTURAL_HEAD, "Ludvika", full_name="Maria Ludvika")
    # Mora signs in the system on 22 April 2023; Ludvika's agreement, signed on paper
    # the same day, is imported ten days later.
    with time_machine.travel(at(2023, 4, 22), tick=False):
        signed_here = agreement_in_stage(Stage.IN_FORCE, "Mora", coordinator=coordinator, head=mora_head)
    with time_machine.travel(at(2023, 5, 2), tick=False):
        login(client, coordinator)
        (imported,) = import_over_http(client, [in_force_row()])
        assert imported.stage == Stage.IN_FORCE and imported.in_force_since == datetime.date(2023, 4, 22)
        process = AgreementProcess.objects.get(agreement=imported)
        assert process.status == STATUS.NEW  # running, not finished
        assert {r.history_change_reason for r in Agreement.history.filter(id=imported.pk)} == {
            reasons.imported_from(file_name="overenskommelser-2023.xlsx")
        }
        # The same timer, due the same moment, as the agreement signed in the system.
        assert (
            scheduled_follow_up(imported).scheduled == scheduled_follow_up(signed_here).scheduled == at(2023, 10, 1, 0)
        )
        assert task_states(imported).get("write_follow_up") is None
        # In the county overview among the agreements in force, nobody has a step yet.
        county = client.get(reverse("workflows:county"), {"stage": Stage.IN_FORCE}).content.decode()
        assert "RD 2023/0042" in county and signed_here.case_number in county

    with time_machine.travel(at(2023, 9, 30), tick=False):
        call_command("workflow_timers")
        assert not imported.follow_ups.exists()

    with time_machine.travel(at(2023, 10, 1, 6), tick=False):
        call_command("workflow_timers")
        for agreement in (imported, signed_here):
            follow_up = agreement.follow_ups.get()
            assert (follow_up.year, follow_up.status) == (2023, FollowUp.Status.OPEN)
            assert follow_up.entries.count() == agreement.active_areas().count()
        assert imported.follow_ups.get().entries.count() == 2  # the imported areas
        # In the county overview both rows say the same: stage, who must act, due date, follow-up.
        client.logout()
        login(client, coordinator)
        county = client.get(reverse("workflows:county"), {"stage": Stage.IN_FORCE}).content.decode()
        ours = [cell.replace("Ludvika", "Mora") for cell in county_row(county, "RD 2023/0042")]
        assert ours[2:] == county_row(county, signed_here.case_number)[2:]
        assert "I kraft" in county_row(county, "RD 2023/0042")[2]
        # The municipality sees the step in its inbox and writes the follow-up; the coordinator accepts it.
        client.logout()
        login(client, ludvika_head)
        inbox = client.get(reverse("workflows:inbox")).content.decode()
        assert "RD 2023/0042" in inbox and "Skriv uppföljningen" in inbox
        follow_up = imported.follow_ups.get()
        data = {"submit_follow_up": "1"}
        for entry in follow_up.entries.all():
            data[f"progress_{entry.area_id}"] = "on_track"
            data[f"narrative_{entry.area_id}"] = "Nätverket har träffats fyra gånger."
        assert client.post(step_url(open_task(imported, "write_follow_up")), data).status_code == 302
        client.logout()
        login(client, coordinator)
        review = step_url(open_task(imported, "review_follow_up"))
        assert client.post(review, {"verdict": "accept"}).status_code == 302
        # The next year's follow-up is scheduled, as after any accepted follow-up.
        assert scheduled_follow_up(imported).scheduled == at(2024, 10, 1, 0)

    with time_machine.travel(at(2023, 11, 1), tick=False):
        client.logout()
        login(client, coordinator)
        # Renewed into the next period: the draft starts from the imported areas.
        following = PlanPeriod.objects.get(name="2027–2030")
        response = client.post(reverse("workflows:agreement_renew", args=[imported.pk]), {"plan_period": following.pk})
        assert response.status_code == 302
        renewed = Agreement.objects.get(predecessor=imported)
        assert renewed.stage == Stage.DRAFTING and task_states(renewed) == {"draft": [STATUS.NEW]}
        assert [a.title for a in renewed.active_areas()] == [a.title for a in imported.active_areas()]


def test_an_imported_closed_agreement_has_an_ended_process_and_no_follow_ups(client, coordinator):
    login(client, coordinator)
    (closed,) = import_over_http(client, [row()])
    assert closed.stage == Stage.CLOSED
    process = AgreementProcess.objects.get(agreement=closed)
    assert process.status == STATUS.DONE and process.finished is not None
    assert not process.task_set.exclude(status=STATUS.DONE).exists()
    call_command("workflow_timers")
    assert not closed.follow_ups.exists()
    # The same end as an agreement closed by the process at its period's end.
    assert process.task_set.filter(flow_task=AgreementFlow.closed, status=STATUS.DONE).exists()


def test_an_imported_agreement_in_force_can_be_withdrawn_and_its_timer_is_cancelled(client, coordinator, time_machine):
    time_machine.move_to(at(2023, 5, 2), tick=False)
    login(client, coordinator)
    (imported,) = import_over_http(client, [in_force_row()])
    response = client.post(
        reverse("workflows:agreement_withdraw", args=[imported.pk]), {"reason": "Ersatt av ett nytt avtal."}
    )
    assert response.status_code == 302
    imported.refresh_from_db()
    assert imported.stage == Stage.WITHDRAWN and imported.process.status == STATUS.CANCELED
    timers = Task.objects.filter(process__agreementprocess__agreement=imported, flow_task=AgreementFlow.follow_up_due)
    assert [t.status for t in timers] == [STATUS.CANCELED]
    time_machine.move_to(at(2023, 10, 2), tick=False)
    call_command("workflow_timers")
    assert not imported.follow_ups.exists()


def test_agreements_imported_before_their_process_was_started_get_one(coordinator, time_machine):
    """As the import did before it started processes: only the cases service."""
    from cases.agreements import services as case_services

    time_machine.move_to(at(2023, 5, 2), tick=False)
    rows = [in_force_row(), row("2062", "RD 2019/0043")]
    in_force, closed = case_services.agreements_import(actor=coordinator, file_name="gammal.xlsx", rows=rows)
    assert not AgreementProcess.objects.exists()

    call_command("start_imported_processes")
    assert AgreementProcess.objects.get(agreement=closed).status == STATUS.DONE
    assert scheduled_follow_up(in_force).scheduled == at(2023, 10, 1, 0)
    call_command("start_imported_processes")  # again: nothing more
    assert AgreementProcess.objects.count() == 2
