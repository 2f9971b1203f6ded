"""Webhooks to a real HTTP receiver run by the test: signed, verifiable
deliveries, each organisation told only what it may see, in order per
agreement; a receiver that is stopped and started again gets what it missed;
slow receivers time out and are retried; URLs checked."""

import datetime
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts.models import Role
from background import webhooks
from background.models import Webhook, WebhookDelivery
from cases.models import Stage
from tests.factories import agreement_in_stage, municipality, region, user_with_role
from workflows import services as flow_services

pytestmark = pytest.mark.django_db
ALL = list(Webhook.Event.values)


class Receiver:
    """A real HTTP server on 127.0.0.1 that records what it is sent; stop() and start() again on the same port."""

    def __init__(self):
        self.received = []
        self.port = None
        self.server = None
        self.delay = 0

    def start(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                if receiver.delay:
                    time.sleep(receiver.delay)
                receiver.received.append((self.path, dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port or 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def receiver(settings):
    settings.WEBHOOKS_ALLOW_HTTP = True
    settings.WEBHOOKS_REFUSE_PRIVATE = False
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    receiver = Receiver()
    receiver.start()
    yield receiver
    receiver.stop()


def verify(secret, headers, body):
    """What a receiver does (README › API and webhooks)."""
    timestamp = headers["X-Samverkan-Timestamp"]
    expected = "sha256=" + hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-Samverkan-Signature"])


def test_signed_scoped_ordered_and_caught_up_after_a_restart(receiver, administrator, coordinator, mora_head):
    region_hook = webhooks.webhook_register(
        actor=administrator, organisation=region(), name="Diarium", url=receiver.url("/region"), events=ALL
    )
    falun_hook = webhooks.webhook_register(
        actor=administrator,
        organisation=municipality("Falun"),
        name="Falun",
        url=receiver.url("/falun"),
        events=[Webhook.Event.AGREEMENT_OPENED],
    )
    mora = agreement_in_stage(Stage.APPROVAL, "Mora", coordinator=coordinator, head=mora_head)
    falun = agreement_in_stage(Stage.DRAFTING, "Falun", coordinator=coordinator)
    assert DBTaskResult.objects.filter(task_path="background.tasks.deliver_webhooks").exists()  # queued with them

    sent = webhooks.deliver_due()
    assert sent == WebhookDelivery.objects.count() == len(receiver.received)
    for path, headers, body in receiver.received:
        secret = region_hook.secret if path == "/region" else falun_hook.secret
        assert verify(secret, headers, body), headers
        assert not verify("wrong", headers, body)
        assert headers["X-Samverkan-Event"] == json.loads(body)["event"]
    by_path = {}
    for path, _headers, body in receiver.received:
        by_path.setdefault(path, []).append(json.loads(body))
    assert [(e["event"], e["agreement"]["id"]) for e in by_path["/falun"]] == [("agreement.opened", falun.pk)]
    mora_events = [e["event"] for e in by_path["/region"] if e["agreement"]["id"] == mora.pk]
    assert mora_events == [
        "agreement.opened",
        "agreement.stage_changed",  # to review
        "agreement.stage_changed",  # to approval
    ]
    assert WebhookDelivery.objects.filter(status="sent", response_code=204).count() == sent

    # The receiver goes down; two steps are taken meanwhile.
    receiver.stop()
    flow_services.agreement_withdraw(actor=coordinator, agreement=mora, reason="Kommunen avvaktar.")
    assert webhooks.deliver_due() == 0
    waiting = list(WebhookDelivery.objects.filter(status="pending").order_by("id"))
    assert [d.event for d in waiting] == ["agreement.withdrawn", "agreement.stage_changed"]
    first = waiting[0]
    first.refresh_from_db()
    assert first.attempts == 1 and first.response_code is None and first.last_error
    assert first.next_attempt_at > timezone.now()
    assert waiting[1].attempts == 0  # waits for the earlier one of the same agreement: order is kept

    receiver.received.clear()
    receiver.start()
    assert webhooks.deliver_due() == 0  # not due yet
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=2)):
        assert webhooks.deliver_due() == 2
    assert [json.loads(body)["event"] for _path, _headers, body in receiver.received] == [
        "agreement.withdrawn",
        "agreement.stage_changed",
    ]
    assert all(verify(region_hook.secret, headers, body) for _path, headers, body in receiver.received)
    assert not WebhookDelivery.objects.filter(status="pending").exists()


def test_a_slow_receiver_times_out_and_is_retried_without_blocking_the_step(receiver, administrator, coordinator):
    webhooks.webhook_register(
        actor=administrator, organisation=region(), name="Slow", url=receiver.url("/slow"), events=ALL
    )
    receiver.delay = 2  # the timeout is 1 s
    started = time.monotonic()
    agreement_in_stage(Stage.DRAFTING, "Leksand", coordinator=coordinator)
    assert time.monotonic() - started < 2  # the step only queues
    webhooks.deliver_due(limit=1)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and delivery.attempts == 1 and "Timeout" in delivery.last_error


def test_urls_are_checked(settings, administrator):
    settings.WEBHOOKS_ALLOW_HTTP = False
    settings.WEBHOOKS_REFUSE_PRIVATE = True
    for url in ("http://example.org/hook", "https://127.0.0.1/hook", "https://10.1.2.3/x", "ftp://x", "nonsense"):
        with pytest.raises(ValidationError) as error:
            webhooks.webhook_register(actor=administrator, organisation=region(), name="X", url=url, events=ALL)
        assert "url" in error.value.message_dict, url
    with pytest.raises(ValidationError) as error:
        webhooks.webhook_register(
            actor=administrator, organisation=region(), name="X", url="https://1.1.1.1/h", events=["nope"]
        )
    assert list(error.value.message_dict) == ["events"]
    assert not Webhook.objects.exists()


def test_only_administrators_register(coordinator):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        webhooks.webhook_register(actor=coordinator, organisation=region(), name="X", url="https://a.se", events=ALL)
    with pytest.raises(PermissionDenied):
        webhooks.webhook_register(
            actor=user_with_role(Role.CULTURAL_HEAD, "Falun"),
            organisation=municipality("Falun"),
            name="X",
            url="https://a.se",
            events=ALL,
        )


def test_no_webhook_no_delivery_rows(coordinator):
    agreement_in_stage(Stage.REVIEW, "Mora", coordinator=coordinator)
    assert not WebhookDelivery.objects.exists()
