"""The timeline grouped by round and stage (#18): a lifecycle with one return
from review reads as rounds and stages in order; every event is in exactly one
group; the latest group is unfolded and the others folded, all unfolded with
?open=all (no script); the filter by kind works as a plain GET form; the CSV
export holds every event with its round and stage."""

import csv
import io
import re

import pytest
from django.urls import reverse

from .helpers import act_as, timeline_url
from .test_timeline import lifecycle  # noqa: F401 (the fixture)

pytestmark = pytest.mark.django_db

# The last signature puts the agreement in force: that change belongs to its step, in signing.
ORDER = ["1-drafting", "1-review", "2-drafting", "2-review", "2-approval", "2-signing"]


def groups(body):
    """[(phase key, open?, number of events)] of the page, in order."""
    found = []
    for key, is_open, inner in re.findall(
        r'<details class="phase" data-phase="([^"]+)"( open)?>(.*?)</details>', body, re.S
    ):
        found.append((key, bool(is_open), inner.count('class="card event"')))
    return found


def test_rounds_and_stages_in_order_latest_unfolded(client, auditor, lifecycle):  # noqa: F811
    act_as(client, auditor)
    response = client.get(timeline_url(lifecycle))
    body = response.content.decode()
    found = groups(body)
    assert [key for key, _open, _n in found] == ORDER
    assert [is_open for _key, is_open, _n in found] == [False] * 5 + [True]
    # Complete: every event once, the groups' counts add up to the total.
    total = len(response.context["events"])
    assert sum(n for _key, _open, n in found) == total == body.count('class="card event"')
    assert "Omgång 2: Kommunal granskning" in body and "Omgång 1: Utkast" in body


def test_each_step_is_in_its_own_round_and_stage(client, auditor, lifecycle):  # noqa: F811
    act_as(client, auditor)
    phases = client.get(timeline_url(lifecycle)).context["phases"]
    by_key = {phase.key: phase for phase in phases}
    steps = {key: [e.subject for e in phase.events if e.action == "step_done"] for key, phase in by_key.items()}
    assert len(steps["1-drafting"]) == 1 and len(steps["2-drafting"]) == 1
    assert len(steps["1-review"]) == 1 and len(steps["2-review"]) == 1
    assert len(steps["2-approval"]) == 2 and len(steps["2-signing"]) == 2
    # The comment asking for changes belongs to the first review.
    comments = [e for e in by_key["1-review"].events if e.kind == "cases.reviewcomment"]
    assert comments and all(e.action == "+" for e in comments)


def test_unfold_everything_without_script(client, auditor, lifecycle):  # noqa: F811
    act_as(client, auditor)
    body = client.get(timeline_url(lifecycle)).content.decode()
    assert "open=all" in body
    found = groups(client.get(timeline_url(lifecycle, open="all")).content.decode())
    assert [is_open for _key, is_open, _n in found] == [True] * 6


def test_filter_by_kind_keeps_the_groups(client, auditor, lifecycle):  # noqa: F811
    act_as(client, auditor)
    response = client.get(timeline_url(lifecycle, kind="decisions"))
    assert response.status_code == 200
    found = groups(response.content.decode())
    assert [(key, is_open, n) for key, is_open, n in found] == [("2-approval", True, 2)]
    assert all(e.group == "decisions" for e in response.context["events"])


def test_the_csv_export_holds_every_event_with_its_round_and_stage(client, auditor, lifecycle):  # noqa: F811
    act_as(client, auditor)
    total = len(client.get(timeline_url(lifecycle)).context["events"])
    response = client.get(reverse("workflows:agreement_timeline_csv", args=[lifecycle.pk]))
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeffOmgång;Skede;")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert len(rows) == total + 1
    assert [r[:2] for r in rows[1:3]] == [["1", "Utkast"], ["1", "Utkast"]]
    assert {tuple(r[:2]) for r in rows[1:]} >= {("2", "Politiskt beslut"), ("2", "Undertecknande")}


def test_the_csv_export_is_scoped(client, falun_head, lifecycle):  # noqa: F811
    act_as(client, falun_head)
    assert client.get(reverse("workflows:agreement_timeline_csv", args=[lifecycle.pk])).status_code == 404
