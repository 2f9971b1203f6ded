"""People over HTTP: an administrator invites by e-mail (an expiring activation
link), gives and ends roles, deactivates; coordinators see who holds which role
where and when each last signed in; every change in the history."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import audit_reasons as reasons
from accounts.models import EnrolmentToken, Membership, Role, User
from accounts.permissions import Action, can_act_for
from background.models import OutgoingEmail
from tests.factories import municipality
from tests.factories.accounts import PASSWORD
from tests.workflows.helpers import login

pytestmark = pytest.mark.django_db

PEOPLE = "/konto/personer/"


def invite(client, **changes):
    data = {
        "full_name": "Greta Vik",
        "email": "greta.vik@ludvika.se",
        "title": "Kultursekreterare",
        "organisation": municipality("Ludvika").pk,
        "role": Role.OFFICIAL,
        **changes,
    }
    return client.post(PEOPLE, data)


def test_an_invited_person_activates_their_account_with_the_link_once(client, administrator):
    login(client, administrator)
    response = invite(client)
    assert response.status_code == 302
    greta = User.objects.get(email="greta.vik@ludvika.se")
    assert not greta.has_usable_password()
    assert Membership.objects.active().get(user=greta).organisation.name == "Ludvika"
    assert can_act_for(greta, municipality("Ludvika"), Action.VIEW)
    assert {h.history_change_reason for h in greta.history.all()} == {str(reasons.PERSON_INVITED)}
    assert greta.history.get().history_user == administrator
    mail = OutgoingEmail.objects.get(to_address="greta.vik@ludvika.se")
    link = re.search(r"https?://\S+/konto/inbjudan/\S+/", mail.body).group(0)
    path = link[link.index("/konto/") :]
    assert "7 dagar" in mail.body
    # The same address cannot be invited twice.
    response = invite(client)
    assert response.status_code == 400 and "har redan ett konto" in response.content.decode()
    client.logout()

    anonymous = Client()
    assert anonymous.get(path).status_code == 200
    response = anonymous.post(path, {"new_password1": "kort", "new_password2": "kort"})
    assert response.status_code == 400
    response = anonymous.post(path, {"new_password1": "Dalahäst-2027!", "new_password2": "Dalahäst-2027!"})
    assert response.status_code == 302
    greta.refresh_from_db()
    assert greta.check_password("Dalahäst-2027!")
    assert greta.history.latest().history_change_reason == str(reasons.INVITATION_ACCEPTED)
    assert anonymous.get(path).status_code == 404  # used once
    assert anonymous.login(email="greta.vik@ludvika.se", password="Dalahäst-2027!")


def test_an_expired_invitation_does_not_work(client, administrator):
    login(client, administrator)
    invite(client)
    path = re.search(r"/konto/inbjudan/\S+/", OutgoingEmail.objects.get().body).group(0)
    EnrolmentToken.objects.filter(kind=EnrolmentToken.Kind.INVITATION).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    response = Client().post(path, {"new_password1": "Dalahäst-2027!", "new_password2": "Dalahäst-2027!"})
    assert response.status_code == 404 and "har gått ut" in response.content.decode()
    assert not User.objects.get(email="greta.vik@ludvika.se").has_usable_password()


def test_an_administrator_gives_and_ends_roles_and_deactivates(client, administrator, mora_head):
    login(client, administrator)
    url = reverse("accounts:person", args=[mora_head.pk])
    response = client.post(url, {"give": "1", "organisation": municipality("Orsa").pk, "role": Role.OFFICIAL})
    assert response.status_code == 302
    orsa = Membership.objects.active().get(user=mora_head, organisation__name="Orsa")
    # A role that does not fit the organisation is refused next to the field.
    response = client.post(url, {"give": "1", "organisation": municipality("Orsa").pk, "role": Role.COORDINATOR})
    assert response.status_code == 400 and "hör till regionen" in response.content.decode()
    response = client.post(url, {"end": "1", "membership": orsa.pk, "reason": ""})
    assert response.status_code == 400
    response = client.post(url, {"end": "1", "membership": orsa.pk, "reason": "Vikariatet slut"})
    assert response.status_code == 302
    orsa.refresh_from_db()
    assert not orsa.is_active and orsa.history.latest().history_change_reason == "Vikariatet slut"
    response = client.post(url, {"deactivate": "1", "reason": "Slutat sin tjänst"})
    assert response.status_code == 302
    mora_head.refresh_from_db()
    assert not mora_head.is_active
    assert mora_head.history.latest().history_change_reason == "Slutat sin tjänst"
    assert mora_head.history.latest().history_user == administrator
    page = client.get(url).content.decode()
    assert "Vikariatet slut" in page and "Slutat sin tjänst" in page


def test_coordinators_see_roles_and_last_sign_in_but_change_nothing(client, coordinator, mora_head, auditor):
    assert Client().login(email=mora_head.email, password=PASSWORD)  # a recorded sign-in
    login(client, coordinator)
    page = client.get(PEOPLE).content.decode()
    assert "Lars Mora" in page and "Kulturchef (kommun)" in page
    section = page[page.index('<h2 id="org-' + str(municipality("Mora").pk)) :]
    assert "Lars Mora" in section.split("</section>")[0] and "Aldrig" not in section.split("</section>")[0]
    assert "Bjud in en person" not in page
    count = User.objects.count()
    assert invite(client).status_code == 403
    assert (
        client.post(reverse("accounts:person", args=[mora_head.pk]), {"deactivate": "1", "reason": "x"}).status_code
        == 403
    )
    client.logout()
    login(client, auditor)
    assert client.get(PEOPLE).status_code == 200
    assert invite(client).status_code == 403
    client.logout()
    login(client, mora_head)
    assert client.get(PEOPLE).status_code == 403
    assert client.get(reverse("accounts:person", args=[mora_head.pk])).status_code == 403
    assert User.objects.count() == count
    mora_head.refresh_from_db()
    assert mora_head.is_active
