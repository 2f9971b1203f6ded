"""The plan administration over HTTP, as the region's coordinators use it:
plan periods, priorities with successors, renewal carrying the priorities
over, two coordinators editing at once, and who may reach the pages."""

import datetime

import pytest
from django.test import Client
from django.urls import reverse

from accounts import audit_reasons as reasons
from cases.models import Agreement, PlanPeriod, PlanPriority, Stage
from cases.plans.services import priority_retire, version_of
from tests.factories import agreement_in_stage
from tests.workflows.helpers import login

pytestmark = pytest.mark.django_db


def add_priority(client, period, title, description=""):
    response = client.post(
        reverse("workflows:plan_priority_new", args=[period.pk]), {"title": title, "description": description}
    )
    assert response.status_code == 302, response.content.decode()
    return PlanPriority.objects.get(plan_period=period, title=title)


def edit_priority(client, priority, **changes):
    data = {
        "title": priority.title,
        "description": priority.description,
        "position": priority.position,
        "successor": priority.successor_id or "",
        "version": version_of(priority),
        "save": "1",
    }
    data.update(changes)
    return client.post(reverse("workflows:plan_priority", args=[priority.pk]), data)


def test_priorities_with_successors_are_carried_over_when_ludvika_renews(client, coordinator):
    ludvika = agreement_in_stage(Stage.IN_FORCE, "Ludvika", coordinator=coordinator)
    login(client, coordinator)
    next_period = PlanPeriod.objects.get(name="2027–2030")
    network = add_priority(client, next_period, "Ett starkt nätverk för kulturchefer", "Fortsatt chefsnätverk.")
    living = add_priority(client, next_period, "Kultur i hållbara livsmiljöer")
    assert [p.position for p in (network, living)] == [1, 2] and network.code != "chefsnatverk"
    old_network = PlanPriority.objects.get(plan_period__name="2023–2026", code="chefsnatverk")
    response = edit_priority(client, old_network, successor=network.pk)
    assert response.status_code == 302
    old_network.refresh_from_db()
    assert old_network.successor == network
    assert old_network.history.latest().history_change_reason == str(reasons.PRIORITY_CHANGED)
    assert old_network.history.latest().history_user == coordinator

    page = client.get(reverse("workflows:plan_period", args=[next_period.pk])).content.decode()
    assert "Ett starkt nätverk för kulturchefer" in page and "Kultur i hållbara livsmiljöer" in page

    response = client.post(reverse("workflows:agreement_renew", args=[ludvika.pk]), {"plan_period": next_period.pk})
    assert response.status_code == 302
    renewed = Agreement.objects.get(predecessor=ludvika)
    linked = {a.title: [p.title for p in a.priorities.all()] for a in renewed.active_areas()}
    assert linked == {
        "Kommunalt chefsnätverk inom kultur": ["Ett starkt nätverk för kulturchefer"],
        "Kulturskolan i samverkan": [],  # no successor marked: flagged, not silently empty
    }
    page = client.get(reverse("workflows:agreement", args=[renewed.pk])).content.decode()
    assert page.count("Välj prioritering") == 1


def test_a_retired_priority_is_kept_and_not_offered_nor_carried_over(client, coordinator):
    login(client, coordinator)
    next_period = PlanPeriod.objects.get(name="2027–2030")
    network = add_priority(client, next_period, "Kulturchefsnätverket")
    old = PlanPriority.objects.get(plan_period__name="2023–2026", code="chefsnatverk")
    assert edit_priority(client, old, successor=network.pk).status_code == 302
    response = edit_priority(client, network, retire="1")
    assert response.status_code == 302
    network.refresh_from_db()
    assert network.is_retired and PlanPriority.objects.filter(pk=network.pk).exists()
    assert network.history.latest().history_change_reason == str(reasons.PRIORITY_RETIRED)
    # A retired priority cannot be chosen as a successor.
    other = PlanPriority.objects.get(plan_period__name="2023–2026", code="kulturskolor")
    response = edit_priority(client, other, successor=network.pk)
    assert response.status_code == 400
    other.refresh_from_db()
    assert other.successor is None


def test_the_second_of_two_coordinators_editing_a_priority_is_told_and_nothing_is_lost(coordinator):
    first, second = login(Client(), coordinator), login(Client(), coordinator)
    priority = PlanPriority.objects.get(plan_period__name="2023–2026", code="kulturskolor")
    url = reverse("workflows:plan_priority", args=[priority.pk])
    seen = first.get(url).context["form"].initial["version"]
    assert second.get(url).context["form"].initial["version"] == seen
    base = {"description": "", "position": 4, "successor": "", "version": seen, "save": "1"}
    assert first.post(url, {**base, "title": "Kulturskolor: den första versionen"}).status_code == 302
    response = second.post(url, {**base, "title": "Kulturskolor: den andra versionen"})
    assert response.status_code == 409
    page = response.content.decode()
    assert "Någon annan har ändrat" in page
    assert "Kulturskolor: den andra versionen" in page  # the second writer's text is kept in the form
    priority.refresh_from_db()
    assert priority.title == "Kulturskolor: den första versionen"  # the first writer's text is not overwritten
    # Saving again from the refreshed form works.
    again = response.context["form"].data.copy()
    assert second.post(url, again).status_code == 302
    priority.refresh_from_db()
    assert priority.title == "Kulturskolor: den andra versionen"


def test_the_same_for_a_plan_period(coordinator):
    first, second = login(Client(), coordinator), login(Client(), coordinator)
    period = PlanPeriod.objects.get(name="2027–2030")
    url = reverse("workflows:plan_period", args=[period.pk])
    seen = first.get(url).context["form"].initial["version"]
    base = {"name": "2027–2030", "starts_on": "2027-01-01", "is_active": "on", "version": seen}
    assert first.post(url, {**base, "ends_on": "2030-12-30"}).status_code == 302
    response = second.post(url, {**base, "ends_on": "2031-06-30"})
    assert response.status_code == 409 and "Någon annan har ändrat" in response.content.decode()
    period.refresh_from_db()
    assert period.ends_on == datetime.date(2030, 12, 30)


def test_a_period_in_use_cannot_be_shortened_past_its_agreements(client, coordinator):
    agreement = agreement_in_stage(Stage.IN_FORCE, "Ludvika", coordinator=coordinator)
    period = agreement.plan_period
    signed_on = agreement.in_force_since
    login(client, coordinator)
    url = reverse("workflows:plan_period", args=[period.pk])
    data = {
        "name": period.name,
        "starts_on": period.starts_on.isoformat(),
        "ends_on": (signed_on - datetime.timedelta(days=1)).isoformat(),
        "is_active": "on",
        "version": version_of(period),
    }
    response = client.post(url, data)
    assert response.status_code == 400
    assert "Perioden används" in response.content.decode()
    period.refresh_from_db()
    assert period.ends_on == datetime.date(2026, 12, 31)
    # Lengthening is fine.
    response = client.post(url, {**data, "ends_on": "2027-01-31"})
    assert response.status_code == 302
    period.refresh_from_db()
    assert period.ends_on == datetime.date(2027, 1, 31)
    assert period.history.latest().history_change_reason == str(reasons.PLAN_PERIOD_CHANGED)


def test_a_coordinator_creates_a_period_and_bad_input_is_refused(client, coordinator):
    login(client, coordinator)
    url = reverse("workflows:plan_period_new")
    response = client.post(url, {"name": "2031–2034", "starts_on": "2034-12-31", "ends_on": "2031-01-01"})
    assert response.status_code == 400 and "Perioden måste sluta efter att den börjar" in response.content.decode()
    response = client.post(url, {"name": "2023–2026", "starts_on": "2031-01-01", "ends_on": "2034-12-31"})
    assert response.status_code == 400
    assert not PlanPeriod.objects.filter(name="2031–2034").exists()
    response = client.post(url, {"name": "2031–2034", "starts_on": "2031-01-01", "ends_on": "2034-12-31"})
    assert response.status_code == 302
    period = PlanPeriod.objects.get(name="2031–2034")
    assert period.history.get().history_change_reason == str(reasons.PLAN_PERIOD_CREATED)


def test_auditors_read_and_municipal_users_do_not_reach_the_plan(client, auditor, mora_head):
    period = PlanPeriod.objects.get(name="2023–2026")
    priority = period.priorities.first()
    login(client, auditor)
    for url in (
        reverse("workflows:plan_periods"),
        reverse("workflows:plan_period", args=[period.pk]),
        reverse("workflows:plan_priority", args=[priority.pk]),
    ):
        assert client.get(url).status_code == 200
    assert client.post(reverse("workflows:plan_period_new"), {"name": "X"}).status_code == 403
    response = client.post(
        reverse("workflows:plan_priority", args=[priority.pk]), {"title": "Ändrad", "version": version_of(priority)}
    )
    assert response.status_code == 403
    priority.refresh_from_db()
    assert priority.title != "Ändrad"
    client.logout()
    login(client, mora_head)
    assert client.get(reverse("workflows:plan_periods")).status_code == 403
    assert client.get(reverse("workflows:plan_period", args=[period.pk])).status_code == 403


def test_a_retired_priority_is_no_longer_offered_in_a_draft_but_kept_where_linked(client, coordinator):
    from cases.agreements.services import agreement_save_draft
    from tests.workflows.helpers import open_task, step_url
    from workflows.demo import sample_areas

    agreement = agreement_in_stage(Stage.DRAFTING, "Borlänge", coordinator=coordinator)
    agreement_save_draft(actor=coordinator, agreement=agreement, title=agreement.title, areas=sample_areas(agreement))
    login(client, coordinator)
    period = agreement.plan_period
    linked = PlanPriority.objects.get(plan_period=period, code="chefsnatverk")  # linked from a sample area
    unused = PlanPriority.objects.get(plan_period=period, code="hallbara-livsmiljoer")
    for priority in (linked, unused):
        assert edit_priority(client, priority, retire="1").status_code == 302
    formset = client.get(step_url(open_task(agreement, "draft"))).context["formset"]
    offered = [set(form.fields["priorities"].queryset) for form in formset]
    area_with_link = next(i for i, form in enumerate(formset) if linked in (form.initial.get("priorities") or []))
    assert linked in offered[area_with_link]  # kept where it is linked
    assert all(unused not in choices for choices in offered)  # offered nowhere
    assert all(linked not in choices for i, choices in enumerate(offered) if i != area_with_link)


def test_the_period_list_counts_each_periods_agreements_and_priorities(client, coordinator):
    """The counts beside each period: its agreements (in any stage) and its priorities in use,
    each counted on its own (not one multiplied by the other)."""
    login(client, coordinator)
    period = PlanPeriod.objects.get(name="2027–2030")
    for title in ("Läsfrämjande", "Kulturarv", "Scenkonst"):
        add_priority(client, period, title)
    retired = PlanPriority.objects.get(plan_period=period, title="Scenkonst")
    priority_retire(actor=coordinator, priority=retired, seen_version=version_of(retired))
    current = PlanPeriod.objects.get(name="2023–2026")
    agreements = [
        agreement_in_stage(stage, name, coordinator=coordinator)
        for stage, name in ((Stage.DRAFTING, "Mora"), (Stage.IN_FORCE, "Falun"), (Stage.REVIEW, "Leksand"))
    ]
    page = client.get(reverse("workflows:plan_periods")).content.decode()

    def counts(name):
        row = page.split(f">{name}</a></th>")[1].split("</tr>")[0]
        return row.replace("</td>", "").split("<td>")[-2:]

    in_use = PlanPriority.objects.filter(plan_period=current, retired_at=None).count()
    assert counts("2023–2026") == [str(in_use), str(len(agreements))]
    assert counts("2027–2030") == ["2", "0"]
