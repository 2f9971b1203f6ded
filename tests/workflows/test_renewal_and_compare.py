"""Renewal into the next period, "offer all", and comparing versions."""

import pytest
from django.urls import reverse

from accounts.models import Organisation
from cases.models import Agreement, AgreementRevision, PlanPeriod, PlanPriority, Stage
from tests.factories import agreement_in_stage
from tests.workflows.helpers import draft_post, login, open_task, step_url, task_states

pytestmark = pytest.mark.django_db


@pytest.fixture
def next_period():
    period = PlanPeriod.objects.get(name="2027–2030")
    PlanPriority.objects.create(plan_period=period, code="kulturskolor", title="Kulturskolor i samverkan")
    return period


def test_renewal_copies_the_areas_as_the_new_draft(client, coordinator, mora_head, next_period):
    old = agreement_in_stage(Stage.IN_FORCE, coordinator=coordinator, head=mora_head)
    login(client, coordinator)
    response = client.post(reverse("workflows:agreement_renew", args=[old.pk]), {"plan_period": next_period.pk})
    assert response.status_code == 302
    new = Agreement.objects.get(predecessor=old)
    assert new.plan_period == next_period and new.municipality == old.municipality
    assert new.stage == Stage.DRAFTING and new.case_number != old.case_number
    assert task_states(new) == {"draft": ["NEW"]}
    old_areas = {a.pk: a for a in old.active_areas()}
    copies = list(new.active_areas())
    assert [c.title for c in copies] == [a.title for a in old_areas.values()]
    assert {c.copied_from_id for c in copies} == set(old_areas)
    linked = {c.title: [p.code for p in c.priorities.all()] for c in copies}
    assert linked["Kulturskolan i samverkan"] == ["kulturskolor"]  # matched by code in the new period
    assert linked["Kommunalt chefsnätverk inom kultur"] == []  # no such priority in 2027–2030

    # Renewing again into the same period is refused, nothing saved.
    response = client.post(reverse("workflows:agreement_renew", args=[old.pk]), {"plan_period": next_period.pk})
    assert response.status_code == 400
    assert "har redan en överenskommelse" in response.content.decode()
    assert Agreement.objects.filter(predecessor=old).count() == 1


def test_an_agreement_still_in_review_cannot_be_renewed(client, coordinator, mora_head, next_period):
    agreement = agreement_in_stage(Stage.REVIEW, coordinator=coordinator, head=mora_head)
    login(client, coordinator)
    response = client.post(reverse("workflows:agreement_renew", args=[agreement.pk]), {"plan_period": next_period.pk})
    assert response.status_code == 400
    assert Agreement.objects.count() == 1


def test_offer_all_opens_exactly_the_missing_drafts_and_nothing_twice(client, coordinator, mora_head, next_period):
    renewed_from = agreement_in_stage(Stage.IN_FORCE, coordinator=coordinator, head=mora_head)
    falun = Organisation.objects.get(name="Falun")
    login(client, coordinator)
    from workflows.services import agreement_open

    agreement_open(actor=coordinator, municipality=falun, plan_period=next_period, title="Falun redan")
    response = client.post(reverse("workflows:offer_all"), {"plan_period": next_period.pk})
    assert response.status_code == 200
    report = response.context["report"]
    assert len(report.renewed) == 1 and report.renewed[0].predecessor == renewed_from
    assert len(report.opened) == 13
    assert [m.name for m in report.skipped] == ["Falun"]
    in_period = Agreement.objects.filter(plan_period=next_period)
    assert in_period.count() == 15
    assert in_period.values("municipality").distinct().count() == 15
    for agreement in in_period:
        assert task_states(agreement) == {"draft": ["NEW"]}

    again = client.post(reverse("workflows:offer_all"), {"plan_period": next_period.pk})
    assert len(again.context["report"].opened) == 0 and len(again.context["report"].renewed) == 0
    assert Agreement.objects.filter(plan_period=next_period).count() == 15


def test_offer_all_is_for_coordinators_only(client, falun_head, auditor, next_period):
    for user in (falun_head, auditor):
        login(client, user)
        assert client.post(reverse("workflows:offer_all"), {"plan_period": next_period.pk}).status_code == 403
        client.logout()
    assert not Agreement.objects.exists()


def test_comparison_lists_the_changed_areas(client, coordinator, mora_head):
    agreement = agreement_in_stage(Stage.REVIEW, coordinator=coordinator, head=mora_head)
    # Round 1 was sent; the head asks for changes; the coordinator edits one area and sends round 2.
    login(client, mora_head)
    client.post(step_url(open_task(agreement, "review")), {"verdict": "changes", "comment": "Mer om kulturskolan"})
    client.logout()
    login(client, coordinator)
    areas = list(agreement.active_areas())
    data = [
        {
            "id": a.pk,
            "title": a.title,
            "goal": a.goal,
            "region_commitment": a.region_commitment,
            "municipality_commitment": a.municipality_commitment,
            "contacts": a.contacts,
            "priorities": list(a.priorities.all()),
        }
        for a in areas
    ]
    data[1]["goal"] = "Utreda regionalt stöd till kulturskolornas samverkan, med en rapport 2025."
    data.append(
        {
            "title": "Läsfrämjande",
            "goal": "Fler läser.",
            "region_commitment": "Regionen stödjer.",
            "municipality_commitment": "Kommunen genomför.",
        }
    )
    resend = draft_post(agreement.title, data, submit=True)
    assert client.post(step_url(open_task(agreement, "draft")), resend).status_code == 302
    first, second = AgreementRevision.objects.filter(agreement=agreement).order_by("round")

    response = client.get(
        reverse("workflows:agreement_compare", args=[agreement.pk]),
        {"left": f"rev-{first.pk}", "right": f"rev-{second.pk}"},
    )
    assert response.status_code == 200
    statuses = {area.title: area.status for area in response.context["areas"]}
    assert statuses == {
        "Kommunalt chefsnätverk inom kultur": "unchanged",
        "Kulturskolan i samverkan": "changed",
        "Läsfrämjande": "added",
    }
    html = response.content.decode()
    assert "<ins>" in html and "<del>" in html and "rapport" in html


def test_comparing_rounds_of_two_agreements_is_refused(client, coordinator, mora_head, falun_head):
    mora = agreement_in_stage(Stage.REVIEW, "Mora", coordinator=coordinator, head=mora_head)
    falun = agreement_in_stage(Stage.REVIEW, "Falun", coordinator=coordinator, head=falun_head)
    login(client, coordinator)
    mora_round = mora.revisions.get()
    falun_round = falun.revisions.get()
    response = client.get(
        reverse("workflows:agreement_compare", args=[mora.pk]),
        {"left": f"rev-{mora_round.pk}", "right": f"rev-{falun_round.pk}"},
    )
    assert response.status_code == 400
    assert "hör till en annan överenskommelse" in response.content.decode()


def test_renewed_agreement_compares_with_its_predecessor(client, coordinator, mora_head, next_period):
    from workflows.services import agreement_renew

    old = agreement_in_stage(Stage.IN_FORCE, coordinator=coordinator, head=mora_head)
    new = agreement_renew(actor=coordinator, agreement=old, plan_period=next_period)
    login(client, coordinator)
    response = client.get(
        reverse("workflows:agreement_compare", args=[new.pk]), {"left": "predecessor", "right": "draft"}
    )
    assert response.status_code == 200
    statuses = {area.title: area.status for area in response.context["areas"]}
    # The copied areas match their originals; only the linked priorities differ.
    assert set(statuses) == {a.title for a in old.active_areas()}
    assert statuses["Kulturskolan i samverkan"] == "changed"
