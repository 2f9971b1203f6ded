"""The pictures of #18, read from the rendered pages as their users get them:
the process map on the agreement page, the county's tile map and follow-up at
a glance on the coverage page. Each is checked for what it says (the right
step now, the right stage per tile, the right counts), its links (scoped) and
its text alternative."""

import re

import pytest
from django.urls import reverse

from cases.agreements import services as case_services
from cases.models import FollowUp, FollowUpEntry, Stage
from tests.factories import (
    AgreementFactory,
    CollaborationAreaFactory,
    agreement_in_stage,
    current_period,
    municipality,
    priority,
)
from workflows import services as workflow_services
from workflows.runner import run_step

pytestmark = pytest.mark.django_db


def steps(body):
    """{step name: status} of the process map."""
    return dict(re.findall(r'data-step="([a-z_]+)" data-status="([a-z_]+)"', body))


def desc(body, element_id):
    return re.search(rf'<desc id="{element_id}">(.*?)</desc>', body, re.S).group(1)


def test_process_map_of_an_agreement_in_approval(client, coordinator, mora_head):
    agreement = agreement_in_stage(Stage.APPROVAL, "Mora", coordinator=coordinator, head=mora_head)
    client.force_login(mora_head)
    body = client.get(reverse("workflows:agreement", args=[agreement.pk])).content.decode()
    assert steps(body) == {
        "draft": "done",
        "review": "done",
        "region_decision": "now",
        "municipal_decision": "now",
        "sign_region": "waiting",
        "sign_municipality": "waiting",
        "write_follow_up": "waiting",
        "review_follow_up": "waiting",
        "close": "waiting",
    }
    # In words, not by colour alone: each box says its state; the text alternative names every step.
    assert "✓ Klar" in body and "▶ Nu" in body and "○ Väntar" in body
    text = desc(body, "process-map-desc")
    assert text.startswith(
        "Nu: Registrera regionens beslut; Registrera kommunens beslut. Klar: Skriv utkastet; Granska utkastet."
    )
    assert 'role="img" aria-labelledby="process-map-title process-map-desc"' in body


def test_process_map_after_one_signature(client, coordinator, mora_head):
    agreement = agreement_in_stage(Stage.SIGNING, "Mora", coordinator=coordinator, head=mora_head)
    run_step(
        agreement=agreement,
        step_name="sign_region",
        actor=coordinator,
        perform=lambda: case_services.signature_record(
            actor=coordinator,
            agreement=agreement,
            party="region",
        ),
    )
    client.force_login(coordinator)
    body = client.get(reverse("workflows:agreement", args=[agreement.pk])).content.decode()
    found = steps(body)
    assert found["region_decision"] == found["municipal_decision"] == "done"
    assert found["sign_region"] == "done" and found["sign_municipality"] == "now"


def test_process_map_of_a_withdrawn_agreement(client, coordinator, mora_head):
    agreement = agreement_in_stage(Stage.REVIEW, "Mora", coordinator=coordinator, head=mora_head)
    workflow_services.agreement_withdraw(actor=coordinator, agreement=agreement, reason="Kommunen avstår.")
    client.force_login(coordinator)
    body = client.get(reverse("workflows:agreement", args=[agreement.pk])).content.decode()
    found = steps(body)
    assert found["draft"] == "done"
    assert {found[name] for name in found if name != "draft"} == {"not_taken"}
    assert "Blir inte av" in desc(body, "process-map-desc")


def tiles(body):
    """{municipality: (stage class, stage label, overdue?, href)} of the tile map."""
    found = {}
    for classes, href, name, stage, rest in re.findall(
        r'<li class="tile stage-([a-z_]+[^"]*)">\s*<a href="([^"]+)">\s*<span class="tile-name">([^<]+)</span>\s*'
        r'<span class="tile-stage">([^<]+)</span>(.*?)</a>',
        body,
        re.S,
    ):
        found[name] = (classes.split()[0], stage, "is-overdue" in classes and "Försenad" in rest, href)
    return found


@pytest.fixture
def county_agreements(coordinator, falun_head, mora_head):
    return {
        "Falun": agreement_in_stage(Stage.REVIEW, "Falun", coordinator=coordinator, head=falun_head),
        "Mora": agreement_in_stage(Stage.IN_FORCE, "Mora", coordinator=coordinator, head=mora_head),
    }


def test_tile_map_of_the_county(client, coordinator, county_agreements):
    client.force_login(coordinator)
    body = client.get(reverse("workflows:county")).content.decode()
    found = tiles(body)
    assert len(found) == 15
    falun, mora = county_agreements["Falun"], county_agreements["Mora"]
    assert found["Falun"][:2] == ("review", "Kommunal granskning")
    assert found["Falun"][3] == reverse("workflows:agreement", args=[falun.pk])
    assert found["Mora"][:2] == ("in_force", "I kraft")
    assert found["Mora"][3] == reverse("workflows:agreement", args=[mora.pk])
    assert found["Avesta"][:2] == ("none", "Ingen överenskommelse")
    assert found["Avesta"][3].endswith(f"?municipality={municipality('Avesta').pk}")
    # North-west first: the order a screen reader reads the list in; the table stays below the map.
    names = list(found)
    assert names[:2] == ["Älvdalen", "Orsa"] and names[-1] == "Avesta"
    assert body.index('class="tilemap"') < body.index("<table>")


def test_tile_map_marks_overdue(client, coordinator, county_agreements):
    from workflows.models import TaskDeadline

    falun = county_agreements["Falun"]
    for deadline in TaskDeadline.objects.filter(
        task__process__agreementprocess__agreement=falun, task__finished__isnull=True
    ):
        deadline.due_on = current_period().starts_on
        deadline.save()
    client.force_login(coordinator)
    found = tiles(client.get(reverse("workflows:county")).content.decode())
    assert found["Falun"][2] is True and found["Mora"][2] is False


def test_a_municipal_user_sees_only_their_tile(client, falun_head, county_agreements):
    client.force_login(falun_head)
    response = client.get(reverse("workflows:county"))
    if response.status_code == 403:
        pytest.skip("the county page is for region-wide readers")
    found = tiles(response.content.decode())
    assert list(found) == ["Falun"]
    assert str(county_agreements["Mora"].pk) not in "".join(v[3] for v in found.values())


def test_follow_up_at_a_glance(client, coordinator):
    period = current_period()
    network, schools = priority("chefsnatverk", period), priority("kulturskolor", period)
    progress = FollowUpEntry.Progress

    def reported(name, year, statuses, prio):
        agreement = AgreementFactory(municipality=municipality(name), in_force=True, areas=0)
        areas = [CollaborationAreaFactory(agreement=agreement, priorities=[prio]) for _ in statuses]
        return agreement, areas

    falun, falun_areas = reported("Falun", 2024, [0, 0], network)
    mora, mora_areas = reported("Mora", 2024, [0], network)
    CollaborationAreaFactory(agreement=mora, priorities=[schools])
    for year, statuses in (
        (2024, [progress.NOT_STARTED, progress.ON_TRACK, progress.ON_TRACK]),
        (2025, [progress.DONE, progress.DELAYED, progress.ON_TRACK]),
    ):
        for agreement, areas in ((falun, falun_areas), (mora, mora_areas)):
            follow_up = FollowUp.objects.create(agreement=agreement, year=year, status=FollowUp.Status.ACCEPTED)
            for area in areas:
                index = (falun_areas + mora_areas).index(area)
                FollowUpEntry.objects.create(follow_up=follow_up, area=area, progress=statuses[index])
    client.force_login(coordinator)
    body = client.get(reverse("workflows:coverage")).content.decode()
    section = body.split(f'id="trend-{network.pk}"')[1].split("</section>")[0]
    assert "3 områden i länet" in section
    text = desc(section, f"trend-desc-{network.pk}")
    assert "2024: Ej påbörjat 1, Enligt plan 2." in text and "2025:" in text
    bars = re.findall(r'data-progress="([a-z_]+)" data-count="(\d+)"', section)
    assert bars == [("not_started", "1"), ("on_track", "2"), ("on_track", "1"), ("delayed", "1"), ("done", "1")]
    schools_section = body.split(f'id="trend-{schools.pk}"')[1].split("</section>")[0]
    assert "Ett område i länet" in schools_section and "<svg" not in schools_section
