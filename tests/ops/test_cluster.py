"""Two app servers on one PostgreSQL, as production runs them: two machines
(network namespaces, or loopback addresses where those cannot be made; see
tests/ops/cluster.py), each with gunicorn (deploy/gunicorn.conf.py, the
production settings) and the background worker with its scheduler
(`manage.py run_worker`), nginx from Debian in front with the proxy settings
of deploy/nginx/samverkan.conf, one real SMTP server (aiosmtpd).

Shown: a session works on both servers; a file uploaded through one
downloads through the other; one step sent to both at the same moment is
recorded once (the other gets the 409); the two workers and their schedulers
running at once send each e-mail once and queue each timer slot once; an app
server killed (SIGKILL) in the middle of a step leaves nothing of it and
the other serves the retry; the database cut away from both machines loses
no job (an e-mail queued meanwhile is sent, once, when it is back).

    pytest -m cluster            # these alone (also part of `make test`)
"""

import datetime
import hashlib
import json
import re
import threading
import time
from collections import Counter

import psycopg
import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts.models import Role
from background.mail import queue_email
from background.models import DeliveryEvent, OutgoingEmail
from cases.models import Attachment, ReviewComment, Stage
from tests.factories import agreement_in_stage, user_with_role
from tests.factories.accounts import PASSWORD
from tests.reliability.processes import SmtpServer, wait_until
from tests.workflows.helpers import open_task, step_url, task_states

from .cluster import Cluster
from .tcpproxy import free_port

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("empty_database_once"),
    pytest.mark.slow,
    pytest.mark.cluster,
]

FAST_SCHEDULE = {"DELIVER_EMAILS_EVERY_SECONDS": 1, "WORKFLOW_TIMERS_EVERY_SECONDS": 1, "OUTBOX_RETRY_SECONDS": 0.5}


@pytest.fixture(scope="module")
def smtp(tmp_path_factory):
    path = tmp_path_factory.mktemp("smtp")
    server = SmtpServer(free_port(), path / "smtp.jsonl")
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def quiet_during_flush(cluster, transactional_db):
    """After each test pytest-django empties the tables (TRUNCATE); the cluster's processes,
    busy all along, could deadlock with it. So they are frozen (SIGSTOP) and their database
    sessions ended first (any transaction of theirs rolls back), and thawed for the next test;
    they reconnect on their own."""
    cluster.thaw()
    yield
    cluster.freeze()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'machine%%'")


@pytest.fixture(scope="module")
def cluster(django_db_setup, django_db_blocker, tmp_path_factory, smtp):
    with django_db_blocker.unblock():
        database = dict(connection.settings_dict)
    cluster = Cluster(tmp_path_factory.mktemp("cluster"), database, smtp_port=smtp.port)
    try:
        cluster.make_machines(2)
        for machine in cluster.machines:
            cluster.start_app_server(machine)
        for machine in cluster.machines:
            cluster.start_worker(machine, "--interval", "0.2", "--tick", "0.5", **FAST_SCHEDULE)
        cluster.wait_until_serving()
        cluster.start_nginx()
        print(f"cluster on {cluster.isolation}: {[m.address for m in cluster.machines]}")
        yield cluster
    finally:
        cluster.stop()


def fast_password(user):
    """The production hasher's full work factor costs a second of CPU per sign-in on this shared machine."""
    user.password = PBKDF2PasswordHasher().encode(PASSWORD, "clustertestsalt", iterations=1000)
    user.save()
    return user


def csrf_token(client, path):
    page = client.get(path)
    assert page.status == 200, (path, page.status, page.text[:300])
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)


def signed_in(cluster, user):
    client = cluster.proxy_client()
    client.login(user.email, PASSWORD)
    return client


def on(cluster, machine, cookies):
    client = cluster.client(machine)
    client.cookies = dict(cookies)
    return client


def race(*calls):
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=30)
            results[index] = call()
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def all_mail_sent(smtp):
    """Every e-mail not held for a digest sent, each once, with one 'sent' event."""
    waiting = OutgoingEmail.objects.filter(status=OutgoingEmail.Status.PENDING)
    wait_until(lambda: not waiting.exists(), timeout=30, message="the workers to send every queued e-mail")
    sent = list(OutgoingEmail.objects.filter(status=OutgoingEmail.Status.SENT))
    for email in sent:
        assert smtp.copies_of(email.message_id) == 1, email
        assert email.events.filter(kind=DeliveryEvent.Kind.SENT).count() == 1
    return sent


def test_two_app_servers_share_sessions_files_steps_and_work(cluster, smtp, tmp_path):
    one, two = cluster.machines
    coordinator = fast_password(user_with_role(Role.COORDINATOR, full_name="Karin Region"))
    head = fast_password(user_with_role(Role.CULTURAL_HEAD, "Mora", full_name="Lars Mora"))
    reviewing = agreement_in_stage(Stage.REVIEW, "Mora", coordinator=coordinator, head=head)

    # A session made through nginx works on both servers, straight. (The municipality's head: the
    # region's coordinators sign in with a second factor in production.)
    browser = signed_in(cluster, head)
    for machine in cluster.machines:
        page = on(cluster, machine, browser.cookies).get("/arbete/")
        assert page.status == 200 and "Lars Mora" in page.text, (
            machine.name,
            page.status,
            page.headers.get("Location"),
        )
    # nginx sends requests to both (each server's own log of the requests it answered).
    for _ in range(6):
        assert browser.get("/arbete/").status == 200
    for machine in cluster.machines:
        log = cluster.log(cluster.servers[machine.name])
        assert '"samverkan.requests"' in log and '"/arbete/"' in log, machine.name

    # A file uploaded through one server downloads, byte for byte, through the other.
    content = b"%PDF-1.4\n" + bytes(range(256)) * 1200  # 300 kB: several chunks in the database
    upload_to = reverse("workflows:attachment_upload", args=[reviewing.pk])
    uploader = on(cluster, one, browser.cookies)
    token = csrf_token(uploader, reverse("workflows:agreement", args=[reviewing.pk]))
    response = uploader.post_file(
        upload_to, {"csrfmiddlewaretoken": token}, field="file", filename="Beslut.pdf", content=content
    )
    assert response.status == 302, response.text[:500]
    attachment = Attachment.objects.get(agreement=reviewing)
    download = on(cluster, two, browser.cookies).get(reverse("workflows:attachment", args=[attachment.pk]))
    assert download.status == 200
    assert download.body == content and attachment.sha256 == hashlib.sha256(content).hexdigest()

    # The same step sent to both servers at once: recorded once, the other answer a 409.
    heads = [signed_in(cluster, head) for _ in range(2)]
    url = step_url(open_task(reviewing, "review"))
    clients = [on(cluster, machine, h.cookies) for machine, h in zip(cluster.machines, heads, strict=True)]
    tokens = [csrf_token(client, url) for client in clients]
    data = [{"csrfmiddlewaretoken": t, "verdict": "changes", "comment": "Mer om biblioteket"} for t in tokens]
    results = race(lambda: clients[0].post(url, data[0]), lambda: clients[1].post(url, data[1]))
    assert sorted(r.status for r in results) == [302, 409], [(r.status, r.text[:300]) for r in results]
    assert ReviewComment.objects.filter(agreement=reviewing).count() == 1
    assert task_states(reviewing) == {"draft": ["DONE", "NEW"], "review": ["DONE"]}
    reviewing.refresh_from_db()
    assert reviewing.stage == Stage.DRAFTING and reviewing.history.filter(review_round=2).count() == 1

    # The e-mail that step queued (to the coordinator: the draft is back) is sent once, by one of the
    # two workers running at once; as is every other e-mail queued here.
    notice = OutgoingEmail.objects.get(task=open_task(reviewing, "draft"), to_address=coordinator.email)
    sent = all_mail_sent(smtp)
    assert notice.pk in {email.pk for email in sent}

    # The two schedulers, ticking every half second on both machines all along, queued each slot of
    # each timed job once, and every task ran once, on one machine.
    time.sleep(3)
    runs = [
        tuple(row["args"])
        for row in DBTaskResult.objects.filter(task_path="background.tasks.run_job").values_list(
            "args_kwargs", flat=True
        )
    ]
    assert runs and [run for run, count in Counter(runs).items() if count > 1] == []
    per_job = Counter(name for name, _slot in runs)
    assert per_job["workflow_timers"] >= 5 and per_job["deliver_emails"] >= 5
    finished = DBTaskResult.objects.filter(status="SUCCESSFUL")
    assert finished.count() >= 10
    assert all(len(ids) == 1 for ids in finished.values_list("worker_ids", flat=True))
    assert not DBTaskResult.objects.filter(status="FAILED").exists()
    queued_by = Counter()
    for machine in cluster.machines:
        log = [
            json.loads(line) for line in cluster.log(cluster.workers[machine.name]).splitlines() if line.startswith("{")
        ]
        queued_by[machine.name] = sum(1 for line in log if line["message"].startswith("Scheduled job "))
    assert sum(queued_by.values()) == len(runs), queued_by
    assert min(queued_by.values()) >= 1, f"both schedulers took part: {queued_by}"


def test_the_database_cut_from_both_machines_loses_no_job(cluster, smtp):
    """The database "restarts" for every machine at once (the relays cut every open
    connection and refuse new ones for a few seconds). One e-mail was queued just
    before, due two seconds later; another is queued while it is away. Both are sent
    once it is back, once each, by workers that kept running; pages answer 503 meanwhile."""
    queue_email(to=["falun@example.se"], subject="Köad före avbrottet", body="Text")
    OutgoingEmail.objects.filter(subject="Köad före avbrottet").update(
        next_attempt_at=timezone.now() + datetime.timedelta(seconds=2)
    )
    for machine in cluster.machines:
        cluster.cut_database(machine)
    try:
        queue_email(to=["mora@example.se"], subject="Köad under avbrottet", body="Text")
        during = cluster.proxy_client().get("/readyz")
        assert during.status == 503 and "database" in json.loads(during.body)["failing"]
        time.sleep(3)  # the first came due; the workers' looks for work fail meanwhile
        emails = list(OutgoingEmail.objects.filter(subject__startswith="Köad "))
        assert len(emails) == 2 and all(e.status == OutgoingEmail.Status.PENDING for e in emails)
        assert all(smtp.copies_of(e.message_id) == 0 for e in emails)
    finally:
        for machine in cluster.machines:
            cluster.restore_database(machine)
    assert all(worker.poll() is None for worker in cluster.workers.values()), "a worker stopped"
    wait_until(lambda: all(smtp.copies_of(e.message_id) == 1 for e in emails), timeout=30, message="both e-mails sent")
    all_mail_sent(smtp)
    wait_until(lambda: cluster.proxy_client().get("/readyz").status == 200, timeout=15, message="ready again")


def watch(sql, params=None):
    """The first row of a query on this test's own connection, outside any transaction
    (pg_stat_activity is read once per transaction: the holder's would never change)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def test_an_app_server_killed_in_the_middle_of_a_step(cluster, smtp):
    """How it is timed: the test holds a lock on the outbox table (SHARE ROW EXCLUSIVE,
    which lets the workers read it but makes an INSERT wait), so the step, which queues
    its e-mail after it has written the review and moved the workflow, stops there with
    its writes made and not committed; the test sees that in pg_stat_activity (the
    backend waits on a lock and has a transaction id, i.e. has written), kills the app
    server that runs it (SIGKILL to gunicorn's every process), then lets the lock go."""
    coordinator = fast_password(user_with_role(Role.COORDINATOR, full_name="Karin Kill"))
    head = fast_password(user_with_role(Role.CULTURAL_HEAD, "Leksand", full_name="Lena Leksand"))
    agreement = agreement_in_stage(Stage.REVIEW, "Leksand", coordinator=coordinator, head=head)
    browser = signed_in(cluster, head)
    url = step_url(open_task(agreement, "review"))
    token = csrf_token(browser, url)
    states, history, emails = task_states(agreement), agreement.history.count(), OutgoingEmail.objects.count()

    db = connection.settings_dict
    holder = psycopg.connect(
        dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"] or None, host=db["HOST"], port=db["PORT"] or 5432
    )
    answers = []
    try:
        holder.execute("LOCK TABLE background_outgoingemail IN SHARE ROW EXCLUSIVE MODE")
        data = {"csrfmiddlewaretoken": token, "verdict": "changes", "comment": "Mer om musiken"}
        held = cluster.proxy_client(timeout=180)  # the browser waits as long as the step is held
        held.cookies = dict(browser.cookies)

        def send():
            try:
                answers.append(held.post(url, data))
            except Exception as exc:  # reported below
                answers.append(exc)

        step = threading.Thread(target=send)
        step.start()
        waiting = wait_until(
            lambda: (
                watch(
                    "SELECT pid, application_name FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND backend_xid IS NOT NULL AND application_name LIKE 'machine%%'"
                )
                or not step.is_alive()
            ),
            timeout=90,
            message="the step to wait in the middle, its writes made",
        )
        assert waiting is not True, [(a.status, a.text[:500]) if hasattr(a, "status") else a for a in answers]
        pid, victim_name = waiting
        victim = next(m for m in cluster.machines if m.name == victim_name)
        cluster.kill_machine_server(victim)
        step.join(timeout=30)
    finally:
        holder.rollback()  # the lock goes
    wait_until(
        lambda: not watch("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]),
        timeout=30,
        message="the killed server's transaction to end",
    )
    holder.close()

    # The user saw nginx's error page (a POST is never sent to a second server: it may have been done).
    assert [getattr(answer, "status", answer) for answer in answers] == [502]
    # Nothing of the step: its transaction rolled back with the server.
    agreement.refresh_from_db()
    assert agreement.stage == Stage.REVIEW and agreement.history.count() == history
    assert task_states(agreement) == states
    assert not ReviewComment.objects.filter(agreement=agreement).exists()
    assert OutgoingEmail.objects.count() == emails

    # The user tries again; nginx sends it to the server still running. Done once.
    token = csrf_token(browser, url)
    retry = browser.post(url, {"csrfmiddlewaretoken": token, "verdict": "changes", "comment": "Mer om musiken"})
    assert retry.status == 302, retry.text[:300]
    assert ReviewComment.objects.filter(agreement=agreement).count() == 1
    assert task_states(agreement) == {"draft": ["DONE", "NEW"], "review": ["DONE"]}
    notice = OutgoingEmail.objects.get(task=open_task(agreement, "draft"), to_address=coordinator.email)
    assert notice.pk in {email.pk for email in all_mail_sent(smtp)}
    survivor = next(m for m in cluster.machines if m is not victim)
    served = [
        json.loads(line) for line in cluster.log(cluster.servers[survivor.name]).splitlines() if line.startswith("{")
    ]
    assert any(line.get("path") == url and line.get("status") == 302 for line in served)
