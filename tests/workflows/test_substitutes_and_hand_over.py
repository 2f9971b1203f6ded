"""Substitutes (ersättare) and steps handed over, over HTTP as the users.

A Falun cultural head records an absence with a Falun official as substitute;
the official sees the head's review in their inbox, takes it, and the history
and the timeline say on whose behalf; when the absence ends (early, or as the
days pass and the scheduled job runs) the official no longer sees it. A
coordinator releases or hands over a step someone has taken; the new owner
completes it and the old owner gets a 409. Bad input: a clear Swedish
message next to the field, nothing saved."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Absence, Role, User
from accounts.services import absence_record, sync_absence_grants, user_deactivate
from background.models import OutgoingEmail
from cases.models import Stage
from tests.factories import agreement_in_stage, user_with_role
from tests.workflows.helpers import login, open_task, step_url
from workflows.models import StepHandover

pytestmark = pytest.mark.django_db

ABSENCES = reverse("accounts:absences")


def days(n):
    return (timezone.localdate() + datetime.timedelta(days=n)).isoformat()


@pytest.fixture
def falun_official(db):
    return user_with_role(Role.OFFICIAL, "Falun", full_name="Olle Falun")


@pytest.fixture
def falun_review(coordinator, falun_head):
    agreement = agreement_in_stage(Stage.REVIEW, "Falun", coordinator=coordinator, head=falun_head)
    return agreement, open_task(agreement, "review")


def record(client, who, **data):
    login(client, who)
    response = client.post(ABSENCES, data)
    client.logout()
    return response


def test_a_substitute_takes_the_absent_heads_review_and_the_history_says_for_whom(
    client, falun_head, falun_official, falun_review
):
    agreement, review = falun_review
    login(client, falun_official)
    assert step_url(review) not in client.get(reverse("workflows:inbox")).content.decode()
    assert client.post(step_url(review), {"verdict": "accept"}).status_code == 403
    client.logout()

    response = record(client, falun_head, starts_on=days(0), ends_on=days(10), substitute=falun_official.pk)
    assert response.status_code == 302, response.content.decode()

    login(client, falun_official)
    inbox = client.get(reverse("workflows:inbox")).content.decode()
    assert step_url(review) in inbox
    assert "som ersättare för Karin Falun" in client.get(step_url(review)).content.decode()
    response = client.post(step_url(review), {"verdict": "accept", "comment": "Bra."})
    assert response.status_code == 302
    review.refresh_from_db()
    assert review.status == "DONE" and review.owner == falun_official
    row = agreement.history.order_by("-history_id").first()
    assert row.history_user == falun_official
    assert row.history_change_reason.endswith("(för Karin Falun)")

    client.logout()
    login(client, falun_head)
    timeline = client.get(reverse("workflows:agreement_timeline", args=[agreement.pk])).content.decode()
    assert "för Karin Falun" in timeline and "Olle Falun" in timeline


def test_a_step_the_absent_person_had_taken_goes_to_the_substitute(client, falun_head, falun_official, falun_review):
    agreement, review = falun_review
    login(client, falun_head)
    assert client.post(reverse("workflows:step_take", args=[agreement.pk, review.pk])).status_code == 302
    client.logout()
    review.refresh_from_db()
    assert review.owner == falun_head and review.status == "ASSIGNED"
    record(client, falun_head, starts_on=days(0), ends_on=days(3), substitute=falun_official.pk)

    login(client, falun_official)
    assert step_url(review) in client.get(reverse("workflows:inbox")).content.decode()
    assert client.post(reverse("workflows:step_take", args=[agreement.pk, review.pk])).status_code == 302
    handover = StepHandover.objects.get(task=review)
    assert (handover.from_user, handover.to_user, handover.reason) == (
        falun_head,
        falun_official,
        "Steget taget för Karin Falun",
    )
    assert client.post(step_url(review), {"verdict": "accept"}).status_code == 302
    review.refresh_from_db()
    assert review.owner == falun_official and review.status == "DONE"


def test_ended_early_the_substitute_no_longer_sees_the_step(client, falun_head, falun_official, falun_review):
    agreement, review = falun_review
    record(client, falun_head, starts_on=days(0), ends_on=days(10), substitute=falun_official.pk)
    absence = Absence.objects.get(user=falun_head)
    login(client, falun_official)
    assert step_url(review) in client.get(reverse("workflows:inbox")).content.decode()
    # Only the absent person (or an administrator or coordinator) ends it.
    assert client.post(reverse("accounts:absence_end", args=[absence.pk])).status_code == 404
    client.logout()
    login(client, falun_head)
    assert client.post(reverse("accounts:absence_end", args=[absence.pk])).status_code == 302
    client.logout()
    login(client, falun_official)
    assert step_url(review) not in client.get(reverse("workflows:inbox")).content.decode()
    assert client.post(step_url(review), {"verdict": "accept"}).status_code == 403
    review.refresh_from_db()
    assert review.status == "NEW"
    assert [r.history_change_reason for r in absence.history.order_by("history_id")] == [
        "Frånvaro registrerad",
        "Frånvaron har börjat: ersättaren har rollerna",
        "Frånvaron avslutad i förtid",
        "Frånvaron är slut: ersättarens roller upphör",
    ]


def test_the_substitute_holds_the_roles_only_while_the_absence_lasts(
    client, time_machine, falun_head, falun_official, coordinator
):
    """Recorded ahead: nothing until the first day; the scheduled job gives the
    roles on it and takes them back after the last day."""
    monday = timezone.make_aware(datetime.datetime(2026, 6, 1, 8, 0))
    time_machine.move_to(monday, tick=False)
    agreement = agreement_in_stage(Stage.REVIEW, "Falun", coordinator=coordinator, head=falun_head)
    review = open_task(agreement, "review")
    absence_record(
        actor=coordinator,
        user=falun_head,
        starts_on=datetime.date(2026, 6, 3),
        ends_on=datetime.date(2026, 6, 5),
        substitute=falun_official,
    )

    def sees():
        client.force_login(User.objects.get(pk=falun_official.pk))
        return step_url(review) in client.get(reverse("workflows:inbox")).content.decode()

    assert not sees()
    for day, expected in [(2, False), (3, True), (5, True), (6, False)]:
        time_machine.move_to(monday.replace(day=day), tick=False)
        sync_absence_grants()
        assert sees() is expected, day


def test_a_substitute_of_falun_sees_nothing_of_moras(client, falun_head, falun_official, coordinator, mora_head):
    mora = agreement_in_stage(Stage.REVIEW, "Mora", coordinator=coordinator, head=mora_head)
    mora_review = open_task(mora, "review")
    record(client, falun_head, starts_on=days(0), ends_on=days(3), substitute=falun_official.pk)
    login(client, falun_official)
    assert mora.case_number not in client.get(reverse("workflows:inbox")).content.decode()
    assert mora.case_number not in client.get(reverse("workflows:queue")).content.decode()
    assert client.get(reverse("workflows:agreement", args=[mora.pk])).status_code == 404
    assert client.post(step_url(mora_review), {"verdict": "accept"}).status_code == 404
    assert client.post(reverse("workflows:step_take", args=[mora.pk, mora_review.pk])).status_code == 404
    mora_absence = absence_record(
        actor=mora_head,
        user=mora_head,
        starts_on=timezone.localdate(),
        ends_on=timezone.localdate(),
        substitute=user_with_role(Role.OFFICIAL, "Mora"),
    )
    assert client.post(reverse("accounts:absence_end", args=[mora_absence.pk])).status_code == 404
    assert "Lars Mora" not in client.get(ABSENCES).content.decode()


def test_bad_absences_are_refused_next_to_the_field_and_nothing_is_saved(
    client, falun_head, falun_official, mora_official, administrator
):
    second_official = user_with_role(Role.OFFICIAL, "Falun", full_name="Pia Falun")
    gone = user_with_role(Role.OFFICIAL, "Falun", full_name="Gunnar Slutat")
    user_deactivate(actor=administrator, user=gone, reason="Slutat")
    absence_record(
        actor=falun_official, user=falun_official, starts_on=days(20), ends_on=days(25), substitute=falun_head
    )
    before = Absence.objects.count()
    cases = [
        ({"substitute": mora_official.pk}, "substitute", "tillhör inte Falun"),
        ({"ends_on": days(-1)}, "ends_on", "kan inte sluta innan den börjar"),
        ({"substitute": gone.pk}, "substitute", "är inaktiverad och kan inte vara ersättare"),
        ({"substitute": falun_head.pk}, "substitute", "din egen ersättare"),
        ({"substitute": ""}, "substitute", "Detta fält måste fyllas i"),
        ({"starts_on": "2026-02-30"}, "starts_on", "giltigt datum"),
        # Chains: the head would be away while being the official's substitute, and the
        # official, away then, cannot stand in for the head.
        ({"starts_on": days(22), "ends_on": days(30)}, "starts_on", "är ersättare för Olle Falun"),
    ]
    login(client, falun_head)
    for overrides, field, message in cases:
        data = {"starts_on": days(0), "ends_on": days(5), "substitute": second_official.pk, **overrides}
        response = client.post(ABSENCES, data)
        assert response.status_code == 400, overrides
        assert message in str(response.context["form"].errors.get(field)), (overrides, response.context["form"].errors)
    assert Absence.objects.count() == before

    # Overlapping absences of one person.
    assert (
        client.post(ABSENCES, {"starts_on": days(0), "ends_on": days(5), "substitute": second_official.pk}).status_code
        == 302
    )
    response = client.post(ABSENCES, {"starts_on": days(5), "ends_on": days(8), "substitute": second_official.pk})
    assert response.status_code == 400
    assert "är redan frånvarande" in str(response.context["form"].errors["starts_on"])
    client.logout()
    # A -> B -> A: the substitute is away then themselves.
    login(client, second_official)
    response = client.post(ABSENCES, {"starts_on": days(1), "ends_on": days(2), "substitute": falun_official.pk})
    assert response.status_code == 400
    assert "är ersättare för Karin Falun" in str(response.context["form"].errors["starts_on"])
    assert Absence.objects.count() == before + 1


def test_a_coordinator_records_an_absence_for_someone_else_and_a_municipal_user_cannot(
    client, coordinator, falun_head, falun_official, mora_head
):
    login(client, coordinator)
    response = client.post(
        ABSENCES, {"user": falun_head.pk, "starts_on": days(0), "ends_on": days(2), "substitute": falun_official.pk}
    )
    assert response.status_code == 302
    assert Absence.objects.get(user=falun_head).substitute == falun_official
    client.logout()
    # A municipal user's form has no "absent person": what they send records their own.
    login(client, falun_official)
    assert "user" not in client.get(ABSENCES).context["form"].fields
    client.post(ABSENCES, {"user": mora_head.pk, "starts_on": days(5), "ends_on": days(6), "substitute": falun_head.pk})
    assert not Absence.objects.filter(user=mora_head).exists()


# ---------------------------------------------------------------------------
# Hand-over
# ---------------------------------------------------------------------------


def test_a_coordinator_hands_a_taken_step_over_the_new_owner_completes_the_old_gets_409(
    client, coordinator, falun_head, falun_review
):
    agreement, review = falun_review
    second_head = user_with_role(Role.CULTURAL_HEAD, "Falun", full_name="Maja Falun")
    login(client, falun_head)
    client.post(reverse("workflows:step_take", args=[agreement.pk, review.pk]))
    client.logout()
    # Another cultural head cannot take it meanwhile.
    login(client, second_head)
    assert client.post(step_url(review), {"verdict": "accept"}).status_code == 409
    client.logout()

    login(client, coordinator)
    url = reverse("workflows:step_hand_over", args=[agreement.pk, review.pk])
    assert "Karin Falun" in client.get(url).content.decode()
    response = client.post(url, {"to": second_head.pk, "reason": "Karin är sjuk"})
    assert response.status_code == 302
    review.refresh_from_db()
    assert review.owner == second_head and review.status == "ASSIGNED"
    handover = StepHandover.objects.get(task=review)
    assert (handover.from_user, handover.to_user, handover.by, handover.reason) == (
        falun_head,
        second_head,
        coordinator,
        "Karin är sjuk",
    )
    told = OutgoingEmail.objects.get(kind="step_handed_over")
    assert told.recipient == falun_head and "inte längre ditt" in told.subject
    assert "Maja Falun: Karin är sjuk" in told.body
    client.logout()

    login(client, falun_head)
    response = client.post(step_url(review), {"verdict": "accept"})
    assert response.status_code == 409
    assert "Maja Falun har tagit det här steget" in response.content.decode()
    client.logout()
    login(client, second_head)
    assert client.post(step_url(review), {"verdict": "accept"}).status_code == 302
    review.refresh_from_db()
    assert review.status == "DONE" and review.owner == second_head


def test_a_coordinator_releases_a_taken_step_and_anyone_who_may_takes_it(client, coordinator, falun_head, falun_review):
    agreement, review = falun_review
    second_head = user_with_role(Role.CULTURAL_HEAD, "Falun")
    login(client, falun_head)
    client.post(reverse("workflows:step_take", args=[agreement.pk, review.pk]))
    client.logout()
    login(client, coordinator)
    url = reverse("workflows:step_hand_over", args=[agreement.pk, review.pk])
    assert client.post(url, {"to": "", "reason": "Ledig i två veckor"}).status_code == 302
    review.refresh_from_db()
    assert review.owner is None and review.status == "NEW"
    assert StepHandover.objects.get(task=review).to_user is None
    assert "släppt: Ledig i två veckor" in OutgoingEmail.objects.get(kind="step_handed_over").body
    client.logout()
    login(client, second_head)
    assert client.post(step_url(review), {"verdict": "accept"}).status_code == 302


def test_bad_hand_overs_are_refused(client, coordinator, falun_head, mora_head, falun_official, falun_review):
    agreement, review = falun_review
    url = reverse("workflows:step_hand_over", args=[agreement.pk, review.pk])
    login(client, coordinator)
    # Nobody has taken it: nothing to hand over.
    assert client.get(url).status_code == 409
    client.logout()
    login(client, falun_head)
    client.post(reverse("workflows:step_take", args=[agreement.pk, review.pk]))
    # Not a coordinator.
    assert client.post(url, {"to": "", "reason": "x"}).status_code == 403
    client.logout()
    login(client, coordinator)
    cases = [
        ({"to": "", "reason": ""}, "reason", "Detta fält måste fyllas i"),
        ({"to": mora_head.pk, "reason": "x"}, "to", "Välj någon som får ta det här steget"),
        ({"to": falun_official.pk, "reason": "x"}, "to", "Välj någon som får ta det här steget"),
        ({"to": falun_head.pk, "reason": "x"}, "to", "Välj någon som får ta det här steget"),
    ]
    for data, field, message in cases:
        response = client.post(url, data)
        assert response.status_code == 400, data
        assert message in str(response.context["form"].errors[field]), data
    review.refresh_from_db()
    assert review.owner == falun_head
    assert not StepHandover.objects.exists() and not OutgoingEmail.objects.filter(kind="step_handed_over").exists()


def test_when_the_absent_persons_role_ends_the_substitutes_ends_too(administrator, falun_head, falun_official):
    from accounts.models import Membership
    from accounts.permissions import Action, can_act_for
    from accounts.services import membership_end
    from tests.factories import municipality

    absence_record(
        actor=falun_head,
        user=falun_head,
        starts_on=timezone.localdate(),
        ends_on=timezone.localdate(),
        substitute=falun_official,
    )
    assert can_act_for(User.objects.get(pk=falun_official.pk), municipality("Falun"), Action.REVIEW)
    membership_end(actor=administrator, membership=Membership.objects.get(user=falun_head), reason="Slutat")
    assert not can_act_for(User.objects.get(pk=falun_official.pk), municipality("Falun"), Action.REVIEW)
