"""Organisations over HTTP: an administrator sets a municipality's default
deciding body, which the decision step offers; partners in the dialogue
(county cultural institutions, folk high schools) are added, join dialogue
meetings, and never hold roles or sign agreements."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts import audit_reasons as reasons
from accounts.models import Organisation, Role
from cases.models import DialogueMeeting, Stage
from tests.county.conftest import meeting_post
from tests.factories import agreement_in_stage, current_period, municipality
from tests.workflows.helpers import login, open_task, step_url
from workflows.services import agreement_open

pytestmark = pytest.mark.django_db


def test_the_default_deciding_body_is_offered_when_the_decision_is_recorded(client, administrator, coordinator):
    login(client, administrator)
    ludvika = municipality("Ludvika")
    url = reverse("accounts:organisation", args=[ludvika.pk])
    response = client.post(url, {"name": "Ludvika", "deciding_body": "Kultur- och fritidsnämnden", "is_active": "on"})
    assert response.status_code == 302
    ludvika.refresh_from_db()
    assert ludvika.deciding_body == "Kultur- och fritidsnämnden" and ludvika.kommunkod == "2085"
    assert ludvika.history.latest().history_user == administrator
    assert ludvika.history.latest().history_change_reason == str(reasons.ORGANISATION_CHANGED_IN_ADMINISTRATION)
    client.logout()

    agreement = agreement_in_stage(Stage.APPROVAL, "Ludvika", coordinator=coordinator)
    head = agreement.municipality.memberships.get(role=Role.CULTURAL_HEAD).user
    login(client, head)
    response = client.get(step_url(open_task(agreement, "municipal_decision")))
    assert response.status_code == 200
    assert response.context["form"].initial["body"] == "Kultur- och fritidsnämnden"


def test_partners_join_dialogue_meetings_but_hold_no_roles_and_sign_nothing(client, administrator, coordinator):
    login(client, administrator)
    response = client.post(
        reverse("accounts:organisations"), {"name": "Dalarnas museum", "partner_type": "county_cultural_institution"}
    )
    assert response.status_code == 302
    museum = Organisation.objects.get(name="Dalarnas museum")
    assert museum.is_partner and museum.history.get().history_change_reason == str(reasons.PARTNER_ADDED)
    # The same partner twice is refused.
    response = client.post(
        reverse("accounts:organisations"), {"name": "Dalarnas museum", "partner_type": "county_cultural_institution"}
    )
    assert response.status_code == 400
    # A partner holds no roles.
    response = client.post(
        reverse("accounts:person", args=[coordinator.pk]),
        {"give": "1", "organisation": museum.pk, "role": Role.OFFICIAL},
    )
    assert response.status_code == 400
    assert not museum.memberships.exists()
    client.logout()

    # A partner never signs: no agreement can be opened for it.
    with pytest.raises(ValidationError):
        agreement_open(
            actor=coordinator, municipality=museum, plan_period=current_period(), title="Museets överenskommelse"
        )

    login(client, coordinator)
    held_on = timezone.localdate() - datetime.timedelta(days=3)
    data = meeting_post(held_on=held_on, participants=("Falun",), minutes="Museet berättade om sitt länsuppdrag.")
    data["partners"] = [str(museum.pk)]
    response = client.post(reverse("workflows:meeting_new"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    meeting = DialogueMeeting.objects.get()
    assert list(meeting.partners.all()) == [museum]
    assert "Dalarnas museum" in client.get(reverse("workflows:meeting", args=[meeting.pk])).content.decode()
    # A municipality is not a partner.
    data["partners"] = [str(municipality("Mora").pk)]
    assert client.post(reverse("workflows:meeting_new"), data).status_code == 400
    assert DialogueMeeting.objects.count() == 1
