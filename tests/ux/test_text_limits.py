"""Every free text has a limit, checked on the server and counted in the
browser; the comparison page marks what changed and folds what did not."""

import pytest
from django.urls import reverse

from cases import limits
from cases.agreements.compare import compare
from cases.models import AgreementRevision, Stage
from tests.factories import agreement_in_stage
from tests.workflows.helpers import draft_post, login, open_task, step_url

pytestmark = pytest.mark.django_db

WORDS = " ".join(f"ord{i}" for i in range(400))  # about 2,700 characters


def area_rows(agreement, **changes):
    rows = [
        {
            "id": a.pk,
            "title": a.title,
            "goal": a.goal,
            "region_commitment": a.region_commitment,
            "municipality_commitment": a.municipality_commitment,
            "contacts": a.contacts,
            "priorities": list(a.priorities.all()),
        }
        for a in agreement.active_areas().order_by("position")
    ] or [
        {
            "title": title,
            "goal": "Mål.",
            "region_commitment": "Regionen stödjer.",
            "municipality_commitment": "Kommunen.",
        }
        for title in ("Kulturskola", "Bibliotek")
    ]
    rows[0].update(changes)
    return rows


def test_an_area_text_over_the_limit_is_refused_next_to_its_field(client, coordinator, mora_head):
    agreement = agreement_in_stage(Stage.DRAFTING, coordinator=coordinator, head=mora_head)
    before = list(agreement.active_areas().values_list("goal", flat=True))
    login(client, coordinator)
    url = step_url(open_task(agreement, "draft"))
    response = client.post(url, draft_post(agreement.title, area_rows(agreement, goal="x" * 18000)))
    assert response.status_code == 400
    errors = response.context["formset"].forms[0].errors
    assert list(errors) == ["goal"]
    assert str(limits.AREA_TEXT_MAX) in errors["goal"][0]
    assert 'href="#id_areas-0-goal"' in response.content.decode()
    assert list(agreement.active_areas().values_list("goal", flat=True)) == before


def test_every_text_area_of_the_draft_has_a_limit_and_the_counter_is_loaded(client, coordinator, mora_head):
    agreement = agreement_in_stage(Stage.DRAFTING, coordinator=coordinator, head=mora_head)
    login(client, coordinator)
    html = client.get(step_url(open_task(agreement, "draft"))).content.decode()
    textareas = html.count("<textarea")
    assert textareas >= 4
    assert html.count("<textarea") == len([t for t in html.split("<textarea")[1:] if "maxlength=" in t.split(">")[0]])
    assert f'maxlength="{limits.AREA_TEXT_MAX}"' in html
    assert "js/counter.js" in html
    assert 'data-template="{count} av {max} tecken"' in html


def test_long_unchanged_text_is_folded_around_a_change():
    old = {"id": 1, "title": "Kulturskola", "goal": WORDS, "region_commitment": "A", "municipality_commitment": "B"}
    new = dict(old, goal=WORDS.replace("ord200", "ORDET"))
    other = {"id": 2, "title": "Bibliotek", "goal": WORDS, "region_commitment": "A", "municipality_commitment": "B"}
    [changed, unchanged] = compare([old, other], [new, other])
    assert (changed.status, unchanged.status) == ("changed", "unchanged")
    goal = next(marked for label, _b, _a, marked, was in changed.fields if was)
    assert "<del>ord200</del>" in goal and "<ins>ORDET</ins>" in goal
    assert "ord188" in goal and "ord212" in goal  # the words next to the change are kept
    assert "ord100" not in goal and "ord300" not in goal  # the rest is folded
    assert goal.count('class="folded"') == 2
    assert len(goal) < 1000 < len(WORDS)


def test_the_comparison_page_shows_the_change_and_folds_the_rest(client, coordinator, mora_head):
    agreement = agreement_in_stage(Stage.DRAFTING, coordinator=coordinator, head=mora_head)
    login(client, coordinator)
    sent = draft_post(agreement.title, area_rows(agreement, goal=WORDS), submit=True)
    assert client.post(step_url(open_task(agreement, "draft")), sent).status_code == 302
    client.logout()
    login(client, mora_head)
    client.post(step_url(open_task(agreement, "review")), {"verdict": "changes", "comment": "Byt ett ord"})
    client.logout()
    login(client, coordinator)
    edited = draft_post(agreement.title, area_rows(agreement, goal=WORDS.replace("ord200", "ORDET")))
    assert client.post(step_url(open_task(agreement, "draft")), edited).status_code == 302
    first = AgreementRevision.objects.get(agreement=agreement, round=1)
    response = client.get(
        reverse("workflows:agreement_compare", args=[agreement.pk]), {"left": f"rev-{first.pk}", "right": "draft"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<del>ord200</del>" in html and "<ins>ORDET</ins>" in html
    assert "oförändrade ord" in html
    assert html.count("ord100 ") == 0
    # the areas in which nothing changed are folded
    assert "Inget i området har ändrats: visa texten" in html
