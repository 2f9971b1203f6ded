"""Wrong passwords at the signing step's re-authentication count toward the
ordinary lock-out (#12, bad input), although the step's transaction, refused,
is rolled back: after five, the account is locked out from that address, at
/login/ as at the signing step, and nothing is signed."""

import pytest
from axes.models import AccessAttempt

from cases.agreements.services import current_decision_material, document_freeze
from cases.models import Signature, Stage
from tests.factories import agreement_in_stage
from tests.security.helpers import post_login
from tests.workflows.helpers import open_task, sign_post, step_url

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("axes_on")]

IP = "192.0.2.44"


def test_wrong_signing_passwords_lock_the_account_out(client, coordinator, mora_head):
    agreement = agreement_in_stage(Stage.SIGNING, "Mora", coordinator=coordinator, head=mora_head)
    if current_decision_material(agreement) is None:
        document_freeze(actor=coordinator, agreement=agreement)
    client.force_login(mora_head)  # axes is on: client.login() would give it no request
    url = step_url(open_task(agreement, "sign_municipality"))
    for attempt in range(1, 5):
        response = client.post(url, sign_post(agreement, password="fel-lösenord"), REMOTE_ADDR=IP)
        assert response.status_code == 400, attempt
        assert "Lösenordet stämmer inte." in response.content.decode()
        assert AccessAttempt.objects.get(username=mora_head.email).failures_since_start == attempt
    fifth = client.post(url, sign_post(agreement, password="fel-lösenord"), REMOTE_ADDR=IP)
    assert fifth.status_code == 429  # the lock-out page
    # Locked out: the right password does not sign, nor sign in from that address.
    right = client.post(url, sign_post(agreement), REMOTE_ADDR=IP)
    assert right.status_code in (400, 429)
    assert not Signature.objects.filter(agreement=agreement).exists()
    client.logout()
    assert post_login(client, mora_head.email, REMOTE_ADDR=IP).status_code == 429
