"""Signing providers (issue #12 item 6): settings choose which are enabled; a
disabled provider's page answers 404 and is not linked; the in-system and the
paper providers give the proof the signature is recorded with."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from cases.agreements import signing_providers
from cases.agreements.services import current_decision_material, document_freeze
from cases.models import Signature, Stage
from tests.factories import agreement_in_stage
from tests.workflows.helpers import login, open_task, sign_post, step_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def signing(coordinator, mora_head):
    agreement = agreement_in_stage(Stage.SIGNING, "Mora", coordinator=coordinator, head=mora_head)
    if current_decision_material(agreement) is None:
        document_freeze(actor=coordinator, agreement=agreement)
    return agreement


def test_the_settings_choose_the_providers(settings):
    settings.SIGNING_PROVIDERS = ["in_system", "paper"]
    assert list(signing_providers.enabled()) == ["in_system", "paper"]
    settings.SIGNING_PROVIDERS = ["paper"]
    assert signing_providers.provider("in_system") is None
    settings.SIGNING_PROVIDERS = ["bankid"]
    with pytest.raises(ImproperlyConfigured, match="bankid"):
        signing_providers.enabled()


def test_paper_disabled_its_page_is_404_and_unlinked(client, settings, signing, coordinator):
    settings.SIGNING_PROVIDERS = ["in_system"]
    login(client, coordinator)
    url = reverse("workflows:paper_signature", args=[signing.pk, "municipality"])
    assert client.get(url).status_code == 404
    assert url not in client.get(reverse("workflows:agreement", args=[signing.pk])).content.decode()
    # The in-system provider still signs.
    assert client.post(step_url(open_task(signing, "sign_region")), sign_post(signing)).status_code == 302
    assert Signature.objects.get(agreement=signing).auth_method == "password"


def test_in_system_disabled_the_signing_step_is_404(client, settings, signing, coordinator):
    settings.SIGNING_PROVIDERS = ["paper"]
    login(client, coordinator)
    url = step_url(open_task(signing, "sign_region"))
    assert client.get(url).status_code == 404
    assert client.post(url, sign_post(signing)).status_code == 404
    assert not Signature.objects.filter(agreement=signing).exists()
    paper = reverse("workflows:paper_signature", args=[signing.pk, "region"])
    assert client.get(paper).status_code == 200
