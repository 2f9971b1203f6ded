"""Sign-in through an organisation's identity provider, end to end against a
real OpenID provider process (tests/oidc/provider.mjs: the npm package
oidc-provider run with Node.js): first sign-in, a group change at the provider
followed by a new sign-in, the multi-factor claim, every bad token, a provider
that is down, and mapping problems."""

from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from accounts.models import ExternalIdentity, MappingProblem, Membership, Role, SignInEvent, User, UserSession
from tests.factories import municipality, region, user_with_role
from tests.oidc.helpers import KEY, ProviderProcess, follow_provider, provider_round_trip, sign_in_through

pytestmark = pytest.mark.django_db

INBOX = "/arbete/"
METHOD = f"oidc:{KEY}"
# Region Dalarna's coordinators are the group "samordnare"; everyone at falun.se is a Falun official.
RULES = (
    "group:samordnare=Region Dalarna:coordinator; group:kulturchefer-falun=2080:cultural_head; "
    "domain:falun.se=2080:official"
)


def sv(text):
    with translation.override("sv"):
        return gettext(text)


def signed_in_user(client):
    return User.objects.filter(pk=client.session.get("_auth_user_id")).first()


def memberships(user, **filters):
    return {
        (m.organisation.name, m.role, m.source)
        for m in Membership.objects.filter(user=user, is_active=True, **filters).select_related("organisation")
    }


def failed_events():
    return list(SignInEvent.objects.filter(kind="failed", method=METHOD).order_by("id"))


def test_the_login_page_offers_the_provider(client, oidc_provider):
    html = client.get(reverse("login")).content.decode()
    assert "Logga in med Testleverantören" in html
    assert reverse("accounts:oidc_login", args=[KEY]) in html
    assert 'name="password"' in html  # the password form stays for those allowed to use it


def test_first_sign_in_creates_the_user_with_the_mapped_roles(client, oidc_provider):
    oidc_provider.configure(rules=RULES)
    oidc_provider.person("anna-1", email="Anna.Berg@falun.se", name="Anna Berg", groups=["kulturchefer-falun"])
    oidc_provider.signs_in_next("anna-1")

    response = sign_in_through(client, next_url="/arbete/overenskommelser/")

    assert response.status_code == 302 and response["Location"] == "/arbete/overenskommelser/"
    user = signed_in_user(client)
    assert (user.email, user.full_name) == ("anna.berg@falun.se", "Anna Berg")
    assert not user.has_usable_password()
    assert memberships(user) == {("Falun", Role.CULTURAL_HEAD, "provider"), ("Falun", Role.OFFICIAL, "provider")}
    assert ExternalIdentity.objects.get(user=user).subject == "anna-1"
    login = SignInEvent.objects.get(kind="login", user=user)
    assert (login.method, login.ip) == (METHOD, "127.0.0.1")
    assert UserSession.objects.get(user=user).method == METHOD
    assert client.get(INBOX).status_code == 200
    # Guardian's groups follow the memberships, as for memberships granted by hand.
    assert user.has_perm("accounts.review_agreement", municipality("Falun"))
    assert not user.has_perm("accounts.review_agreement", municipality("Mora"))


def test_a_group_change_at_the_provider_takes_effect_at_the_next_sign_in(client, oidc_provider):
    oidc_provider.configure(rules=RULES)
    oidc_provider.person("erik-2", email="erik@regiondalarna.se", name="Erik Ek", groups=["samordnare"])
    oidc_provider.signs_in_next("erik-2")
    sign_in_through(client)
    erik = signed_in_user(client)
    assert memberships(erik) == {("Region Dalarna", Role.COORDINATOR, "provider")}
    # An administrator also makes him an auditor, by hand.
    from accounts.services import membership_create

    membership_create(actor=None, user=erik, organisation=region(), role=Role.AUDITOR)
    client.post(reverse("logout"))

    # He leaves the coordinators' group at the provider and joins Falun's cultural heads.
    oidc_provider.person("erik-2", email="erik@regiondalarna.se", name="Erik Ek", groups=["kulturchefer-falun"])
    oidc_provider.signs_in_next("erik-2")
    sign_in_through(client)

    assert signed_in_user(client) == erik
    assert memberships(erik) == {
        ("Falun", Role.CULTURAL_HEAD, "provider"),
        ("Region Dalarna", Role.AUDITOR, "manual"),  # granted by hand: never touched by the mapping
    }
    ended = Membership.objects.get(user=erik, role=Role.COORDINATOR)
    assert not ended.is_active
    assert "Testleverantören" in ended.history.first().history_change_reason
    assert not erik.has_perm("accounts.coordinate_agreements")
    assert User.objects.filter(email="erik@regiondalarna.se").count() == 1


def test_a_hand_granted_role_that_the_mapping_also_gives_stays_when_the_group_goes(client, oidc_provider):
    head = user_with_role(Role.CULTURAL_HEAD, "Falun", email="karin@falun.se")
    oidc_provider.configure(rules=RULES)
    oidc_provider.person("karin-3", email="KARIN@falun.se", name="Karin", groups=["kulturchefer-falun"])
    oidc_provider.signs_in_next("karin-3")
    sign_in_through(client)
    assert signed_in_user(client) == head  # linked to the existing account by its address
    assert memberships(head) == {("Falun", Role.CULTURAL_HEAD, "manual"), ("Falun", Role.OFFICIAL, "provider")}

    client.post(reverse("logout"))
    oidc_provider.person("karin-3", email="karin@falun.se", name="Karin", groups=[])
    oidc_provider.signs_in_next("karin-3")
    sign_in_through(client)
    assert memberships(head) == {("Falun", Role.CULTURAL_HEAD, "manual"), ("Falun", Role.OFFICIAL, "provider")}


@pytest.mark.usefixtures("two_factor_on")
def test_the_providers_multi_factor_claim_satisfies_the_two_step_requirement(client, oidc_provider):
    oidc_provider.configure(rules=RULES)
    oidc_provider.person("sam-4", email="sam@regiondalarna.se", name="Sam", groups=["samordnare"])

    # With only a password at the provider, our own second step still applies.
    oidc_provider.signs_in_next("sam-4", amr=["pwd"])
    sign_in_through(client)
    assert client.get(INBOX)["Location"].startswith(reverse("accounts:two_factor_setup"))
    client.post(reverse("logout"))

    # The provider says it used more than one factor: that is the second step.
    oidc_provider.signs_in_next("sam-4", amr=["pwd", "mfa"])
    sign_in_through(client)
    assert client.get(INBOX).status_code == 200
    assert client.get(reverse("admin:index")).status_code == 302  # a coordinator, not an administrator


@pytest.mark.usefixtures("two_factor_on")
def test_an_acr_value_can_count_as_multi_factor(client, oidc_provider):
    oidc_provider.configure(rules=RULES, mfa_amr=(), mfa_acr=("http://id.elegnamnden.se/loa/1.0/loa3",))
    oidc_provider.person("sam-5", email="sam5@regiondalarna.se", name="Sam", groups=["samordnare"])
    oidc_provider.signs_in_next("sam-5", amr=["mfa"], acr="http://id.elegnamnden.se/loa/1.0/loa2")
    sign_in_through(client)
    assert client.get(INBOX).status_code == 302  # "mfa" does not count for this provider; loa2 is not enough
    client.post(reverse("logout"))
    oidc_provider.signs_in_next("sam-5", acr="http://id.elegnamnden.se/loa/1.0/loa3")
    sign_in_through(client)
    assert client.get(INBOX).status_code == 200


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("issuer", "wrong issuer"),
        ("audience", "wrong audience"),
        ("nonce", "wrong nonce"),
        ("signature", "bad signature"),
        ("expired", "expired token"),
    ],
)
def test_a_bad_id_token_is_refused(client, oidc_provider, fault, reason):
    oidc_provider.configure(rules=RULES)
    oidc_provider.person("eve-6", email="eve@falun.se", name="Eve", groups=["kulturchefer-falun"])
    oidc_provider.signs_in_next("eve-6")
    oidc_provider.fault(fault)

    response = sign_in_through(client)

    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert signed_in_user(client) is None
    assert not User.objects.filter(email="eve@falun.se").exists()
    (event,) = failed_events()
    assert (event.detail, event.user) == (reason, None)
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "kunde inte slutföras" in page.content.decode()


def test_a_replayed_authorization_code_is_refused(client, oidc_provider):
    oidc_provider.person("lars-7", email="lars@mora.se", name="Lars", groups=[])
    oidc_provider.signs_in_next("lars-7")
    callback = provider_round_trip(client)
    assert client.get(callback).status_code == 302
    lars = signed_in_user(client)
    assert lars is not None
    client.post(reverse("logout"))

    # The same code again, even with a state this browser really started.
    oidc_provider.signs_in_next("lars-7")
    fresh = dict(parse_qsl(urlsplit(provider_round_trip(client)).query))
    old = dict(parse_qsl(urlsplit(callback).query))
    replay = urlsplit(callback).path + "?" + urlencode({**old, "state": fresh["state"]})
    response = client.get(replay)

    assert response["Location"] == reverse("login")
    assert signed_in_user(client) is None
    (event,) = failed_events()
    assert event.detail == "authorization code refused"
    assert SignInEvent.objects.filter(kind="login", user=lars).count() == 1


def test_a_state_that_this_browser_did_not_start_is_refused(client, oidc_provider):
    oidc_provider.person("mia-8", email="mia@mora.se", name="Mia", groups=[])
    oidc_provider.signs_in_next("mia-8")
    callback = provider_round_trip(client)
    params = dict(parse_qsl(urlsplit(callback).query))

    # Another browser (no state in its session) gets the code, e.g. a link planted by an attacker.
    other = Client()
    assert other.get(urlsplit(callback).path + "?" + urlencode(params))["Location"] == reverse("login")
    # This browser, with the state changed.
    tampered = urlsplit(callback).path + "?" + urlencode({**params, "state": "x" * 32})
    assert client.get(tampered)["Location"] == reverse("login")

    assert signed_in_user(client) is None and "_auth_user_id" not in other.session
    assert [e.detail for e in failed_events()] == ["state mismatch", "state mismatch"]
    assert not User.objects.filter(email="mia@mora.se").exists()
    # The state that was not used stays usable exactly once.
    assert client.get(callback).status_code == 302 and signed_in_user(client).email == "mia@mora.se"
    client.post(reverse("logout"))
    assert client.get(callback)["Location"] == reverse("login")


def test_an_error_from_the_provider_signs_nobody_in(client, oidc_provider):
    oidc_provider.signs_in_next("nobody-at-all")  # not an account: the provider answers access_denied
    response = sign_in_through(client)
    assert response["Location"] == reverse("login")
    assert signed_in_user(client) is None
    assert failed_events()[0].detail == "error from provider: access_denied"


def test_an_address_outside_the_providers_domains_is_refused(client, oidc_provider):
    user_with_role(Role.COORDINATOR, email="chef@regiondalarna.se")
    oidc_provider.configure(domains=("falun.se",))
    oidc_provider.person("x-9", email="chef@regiondalarna.se", name="Impostor", groups=[])
    oidc_provider.signs_in_next("x-9")
    response = sign_in_through(client)
    assert response["Location"] == reverse("login")
    assert signed_in_user(client) is None
    assert not ExternalIdentity.objects.exists()
    assert failed_events()[0].detail == "e-mail address outside the provider's domains"


def test_a_deactivated_user_is_not_signed_in(client, oidc_provider, administrator):
    from accounts.services import user_deactivate

    left = user_with_role(Role.OFFICIAL, "Mora", email="gone@mora.se")
    user_deactivate(actor=administrator, user=left, reason="Slutat")
    oidc_provider.person("gone-10", email="gone@mora.se", name="Gone", groups=[])
    oidc_provider.signs_in_next("gone-10")
    response = sign_in_through(client)
    assert response["Location"] == reverse("login")
    assert signed_in_user(client) is None
    page = client.get(reverse("login")).content.decode()
    assert sv("This account is deactivated. Contact your administrator.") in page


def test_mapping_problems_are_shown_to_administrators_and_the_person_signs_in_without_them(
    client, oidc_provider, administrator
):
    oidc_provider.configure(
        rules="group:kultur=Okänd kommun:cultural_head; group:kultur=2080:coordinator; group:kultur=2062:official"
    )
    oidc_provider.person("olle-11", email="olle@mora.se", name="Olle", groups=["kultur"])
    oidc_provider.signs_in_next("olle-11")
    response = sign_in_through(client)

    olle = signed_in_user(client)
    assert response.status_code == 302 and olle is not None
    assert memberships(olle) == {("Mora", Role.OFFICIAL, "provider")}
    problems = {(p.rule, p.user) for p in MappingProblem.objects.all()}
    assert problems == {
        ("group:kultur=Okänd kommun:cultural_head", olle),
        ("group:kultur=2080:coordinator", olle),
    }

    admin = Client()
    admin.force_login(administrator)
    page = admin.get(reverse("admin:accounts_mappingproblem_changelist"))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Okänd kommun" in html and "Ingen aktiv organisation" in html
    assert "hör till regionen, inte till en kommun" in html  # the role's own rule, in Swedish


def test_password_sign_in_is_refused_for_an_organisation_with_a_provider(client, oidc_provider, falun_head, mora_head):
    from tests.factories.accounts import PASSWORD

    oidc_provider.configure(rules="domain:falun.se=2080:official")
    refused = client.post(reverse("login"), {"username": falun_head.email, "password": PASSWORD})
    assert refused.status_code == 200
    assert "_auth_user_id" not in client.session
    assert "Logga in med Testleverantören" in refused.content.decode()
    event = SignInEvent.objects.get(kind="failed")
    assert (event.method, event.detail, event.user) == ("password", "password not allowed", falun_head)

    # Mora has no provider: its people go on with their passwords.
    assert client.post(reverse("login"), {"username": mora_head.email, "password": PASSWORD}).status_code == 302
    client.post(reverse("logout"))

    # An administrator may allow it for one person, or for the whole organisation.
    falun_head.password_sign_in_allowed = True
    falun_head.save()
    assert client.post(reverse("login"), {"username": falun_head.email, "password": PASSWORD}).status_code == 302
    client.post(reverse("logout"))
    falun_head.password_sign_in_allowed = False
    falun_head.save()
    falun = municipality("Falun")
    falun.password_sign_in_allowed = True
    falun.save()
    assert client.post(reverse("login"), {"username": falun_head.email, "password": PASSWORD}).status_code == 302


def test_a_provider_that_is_down_is_named_on_the_login_page(client, oidc_provider, settings):
    from tests.oidc.helpers import free_port

    oidc_provider.configure(issuer=f"http://127.0.0.1:{free_port()}")
    response = client.get(reverse("accounts:oidc_login", args=[KEY]), follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("login")
    assert "Testleverantören svarar inte just nu" in html
    assert 'name="password"' in html


def test_a_provider_that_goes_down_during_the_sign_in(client, settings, db):
    """Up when the browser was sent there, down when the code is redeemed."""
    from django.core.cache import cache

    cache.clear()
    provider = ProviderProcess()
    try:
        settings.SAMVERKAN_OIDC_PROVIDERS = (provider.config(),)
        provider.person("pia-12", email="pia@mora.se", name="Pia", groups=[])
        provider.signs_in_next("pia-12")
        callback = provider_round_trip(client)
    finally:
        provider.stop()
    response = client.get(callback, follow=True)
    assert response.status_code == 200
    assert "Testleverantören svarar inte just nu" in response.content.decode()
    assert signed_in_user(client) is None


def test_an_unknown_provider_is_404(client, oidc_provider):
    assert client.get(reverse("accounts:oidc_login", args=["okand"])).status_code == 404
    assert client.get(reverse("accounts:oidc_callback", args=["okand"]) + "?code=x&state=y").status_code == 404


def test_follow_provider_really_reaches_the_provider(oidc_provider):
    """The helper does not shortcut the provider: an unknown client is refused there."""
    with pytest.raises(AssertionError):
        follow_provider(
            f"{oidc_provider.issuer}/auth?client_id=nobody&response_type=code", stop_at="http://testserver/"
        )
