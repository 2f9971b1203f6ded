"""Each role lands where its work is, and its menu offers what it does:
over HTTP, as each role."""

import pytest
from django.urls import reverse

from accounts.models import Role
from cases.models import Stage
from tests.factories import agreement_in_stage, municipality, user_with_role
from tests.factories.accounts import MembershipFactory
from tests.workflows.helpers import login

pytestmark = pytest.mark.django_db

TO_DO, OPEN_STEPS, DONE = "Att göra", "Alla öppna steg", "Klart av mig"


def menu(html):
    return html.split('aria-label="Huvudmeny"', 1)[1].split("</nav>", 1)[0]


@pytest.mark.parametrize(
    ("role", "start", "offers", "lacks"),
    [
        ("coordinator", "workflows:inbox", [TO_DO, OPEN_STEPS, DONE, "Länet", "Granskningslogg"], []),
        ("cultural_head", "workflows:inbox", [TO_DO, OPEN_STEPS, DONE], ["Granskningslogg"]),
        ("official", "workflows:inbox", [TO_DO, DONE], ["Granskningslogg"]),
        ("auditor", "workflows:audit_log", ["Granskningslogg", "Länet", "Överenskommelser"], [TO_DO, OPEN_STEPS, DONE]),
    ],
)
def test_each_role_lands_on_its_work_and_its_menu_fits(client, role, start, offers, lacks):
    place = "Falun" if role in ("cultural_head", "official") else None
    user = user_with_role(Role(role), place)
    login(client, user)
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"] == reverse(start)
    page = client.get(response["Location"])
    assert page.status_code == 200
    nav = menu(page.content.decode())
    for label in offers:
        assert f">{label}</a>" in nav, (role, label)
    for label in lacks:
        assert f">{label}</a>" not in nav, (role, label)


def test_the_administrator_lands_on_the_administration_and_has_no_steps(client, administrator):
    login(client, administrator)
    assert client.get(reverse("home"))["Location"] == reverse("admin:index")
    assert client.get(reverse("admin:index")).status_code == 200
    nav = menu(client.get(reverse("background:outbox")).content.decode())
    assert ">Utgående e-post</a>" in nav and ">Administration</a>" in nav
    for label in (TO_DO, OPEN_STEPS, DONE, "Överenskommelser"):
        assert f">{label}</a>" not in nav


def test_a_person_of_two_municipalities_reads_your_municipalities(client, coordinator):
    head = user_with_role(Role.CULTURAL_HEAD, "Falun")
    MembershipFactory.create(user=head, organisation=municipality("Mora"), role=Role.CULTURAL_HEAD)
    agreement_in_stage(Stage.REVIEW, "Falun", coordinator=coordinator, head=head)
    login(client, head)
    html = client.get(reverse("workflows:inbox")).content.decode()
    assert "Dina kommuner 2023–2026" in html
    assert "Din kommun 2023–2026" not in html
    one = user_with_role(Role.CULTURAL_HEAD, "Falun")
    client.logout()
    login(client, one)
    assert "Din kommun 2023–2026" in client.get(reverse("workflows:inbox")).content.decode()


def test_who_must_act_is_short_and_readable(client, coordinator, mora_head):
    agreement_in_stage(Stage.APPROVAL, "Mora", coordinator=coordinator, head=mora_head)
    login(client, coordinator)
    html = client.get(reverse("workflows:county")).content.decode()
    assert "Kulturchef eller tjänsteperson, Mora; Samordnare, Region Dalarna" in html
    assert "(kommun) (" not in html
