"""Living agreements: a signed agreement receives its yearly follow-ups on
schedule through the timers command, a follow-up is returned once and then
accepted, and the agreement closes at the plan period's end."""

import datetime
import zoneinfo

import pytest
from django.core.management import call_command
from django.urls import reverse

from cases.models import FollowUp, Stage
from tests.factories import agreement_in_stage
from tests.workflows.helpers import login, open_task, step_url, task_states

pytestmark = pytest.mark.django_db
STOCKHOLM = zoneinfo.ZoneInfo("Europe/Stockholm")


def at(year, month, day, hour=9):
    return datetime.datetime(year, month, day, hour, tzinfo=STOCKHOLM)


def report(client, agreement, *, submit, narrative="Det går bra.", progress="on_track"):
    follow_up = agreement.follow_ups.order_by("-year").first()
    data = {}
    for entry in follow_up.entries.all():
        data[f"progress_{entry.area_id}"] = progress
        data[f"narrative_{entry.area_id}"] = narrative
    data["submit_follow_up" if submit else "save"] = "1"
    return client.post(step_url(open_task(agreement, "write_follow_up")), data)


def test_follow_ups_on_schedule_and_closing_at_period_end(client, coordinator, mora_head, time_machine):
    time_machine.move_to(at(2023, 3, 1), tick=False)
    agreement = agreement_in_stage(Stage.IN_FORCE, coordinator=coordinator, head=mora_head)
    assert agreement.in_force_since == datetime.date(2023, 3, 1)
    assert task_states(agreement).get("write_follow_up") is None

    # Before 1 October nothing happens.
    time_machine.move_to(at(2023, 9, 30), tick=False)
    call_command("workflow_timers")
    assert not agreement.follow_ups.exists()

    for year in (2023, 2024, 2025, 2026):
        time_machine.move_to(at(year, 10, 1, 6), tick=False)
        call_command("workflow_timers")
        follow_up = agreement.follow_ups.get(year=year)
        assert follow_up.status == FollowUp.Status.OPEN
        assert follow_up.entries.count() == agreement.active_areas().count() == 2

        login(client, mora_head)
        assert report(client, agreement, submit=False).status_code == 302  # saved, still open
        assert open_task(agreement, "write_follow_up")
        if year == 2024:
            response = report(client, agreement, submit=True, narrative="")
            assert response.status_code == 400
            assert "för varje område" in response.content.decode()
        assert report(client, agreement, submit=True).status_code == 302
        follow_up.refresh_from_db()
        assert follow_up.status == FollowUp.Status.SUBMITTED and follow_up.submitted_by == mora_head

        client.logout()
        login(client, coordinator)
        review_url = step_url(open_task(agreement, "review_follow_up"))
        if year == 2024:  # returned once, then accepted
            assert client.post(review_url, {"verdict": "return", "comment": ""}).status_code == 400
            assert client.post(review_url, {"verdict": "return", "comment": "Beskriv bokbussen."}).status_code == 302
            follow_up.refresh_from_db()
            assert follow_up.status == FollowUp.Status.RETURNED
            client.logout()
            login(client, mora_head)
            page = client.get(step_url(open_task(agreement, "write_follow_up"))).content.decode()
            assert "Beskriv bokbussen." in page
            assert report(client, agreement, submit=True, narrative="Bokbussen går varje vecka.").status_code == 302
            client.logout()
            login(client, coordinator)
            review_url = step_url(open_task(agreement, "review_follow_up"))
        assert client.post(review_url, {"verdict": "accept"}).status_code == 302
        follow_up.refresh_from_db()
        assert follow_up.status == FollowUp.Status.ACCEPTED
        client.logout()

    assert list(agreement.follow_ups.values_list("year", flat=True)) == [2023, 2024, 2025, 2026]
    assert task_states(agreement)["write_follow_up"].count("DONE") == 5  # one return in 2024

    # The period ends on 31 December 2026; the agreement closes the next day.
    time_machine.move_to(at(2026, 12, 31, 23), tick=False)
    call_command("workflow_timers")
    agreement.refresh_from_db()
    assert agreement.stage == Stage.IN_FORCE
    time_machine.move_to(at(2027, 1, 1, 1), tick=False)
    call_command("workflow_timers")
    agreement.refresh_from_db()
    assert agreement.stage == Stage.CLOSED
    assert agreement.process.status == "DONE"
    assert agreement.history.latest().history_change_reason == "Överenskommelsen avslutad vid planperiodens slut"


def test_signed_late_in_the_period_gets_only_the_remaining_follow_ups(coordinator, mora_head, time_machine):
    time_machine.move_to(at(2026, 11, 1), tick=False)
    agreement = agreement_in_stage(Stage.IN_FORCE, coordinator=coordinator, head=mora_head)
    time_machine.move_to(at(2026, 12, 1), tick=False)
    call_command("workflow_timers")
    assert not agreement.follow_ups.exists()  # 1 October 2026 had passed when it came into force
    time_machine.move_to(at(2027, 1, 2), tick=False)
    call_command("workflow_timers")
    agreement.refresh_from_db()
    assert agreement.stage == Stage.CLOSED


def test_follow_up_for_a_year_outside_the_period_is_refused(coordinator, mora_head, time_machine):
    from django.core.exceptions import ValidationError

    from cases.follow_ups.services import follow_up_open

    time_machine.move_to(at(2023, 3, 1), tick=False)
    agreement = agreement_in_stage(Stage.IN_FORCE, coordinator=coordinator, head=mora_head)
    with pytest.raises(ValidationError) as error:
        follow_up_open(agreement=agreement, year=2031)
    assert "utanför planperioden" in str(error.value)
    assert not agreement.follow_ups.exists()


def test_other_municipality_cannot_write_the_follow_up(client, coordinator, mora_head, falun_head, time_machine):
    time_machine.move_to(at(2023, 3, 1), tick=False)
    agreement = agreement_in_stage(Stage.IN_FORCE, coordinator=coordinator, head=mora_head)
    time_machine.move_to(at(2023, 10, 2), tick=False)
    call_command("workflow_timers")
    login(client, falun_head)
    url = step_url(open_task(agreement, "write_follow_up"))
    assert client.get(url).status_code == 404
    assert client.post(url, {}).status_code == 404
    assert reverse("workflows:agreement", args=[agreement.pk])
