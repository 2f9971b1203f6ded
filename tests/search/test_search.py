"""Search (#18): through the header's form, as the user who searches; the
Swedish stemmer without accents, ranking, scoping, escaping and bad input."""

import re

import pytest
from django.db.models import F, TextField
from django.db.models.functions import Cast
from django.urls import reverse

from cases.models import ReviewComment
from tests.factories import (
    ActionPointFactory,
    AgreementFactory,
    CollaborationAreaFactory,
    DialogueMeetingFactory,
    FollowUpFactory,
    municipality,
)

pytestmark = pytest.mark.django_db
URL = reverse("workflows:search")


def area(**fields):
    """An area of an agreement of its own (withdrawn, so that many can share Mora and the period)."""
    return CollaborationAreaFactory(agreement=AgreementFactory(stage="withdrawn", areas=0), **fields)


def hits(client, q):
    response = client.get(URL, {"q": q})
    assert response.status_code == 200, response.content[:500]
    body = response.content.decode()
    items = re.findall(r'<ol class="search-results">(.*?)</ol>', body, re.S)
    return body, (re.findall(r"<li>(.*?)</li>", items[0], re.S) if items else [])


def test_the_search_box_is_in_every_page_header(client, coordinator):
    client.force_login(coordinator)
    for name in ("workflows:inbox", "workflows:agreements", "workflows:meetings"):
        body = client.get(reverse(name)).content.decode()
        assert f'action="{URL}"' in body and 'role="search"' in body, name


def test_accents_do_not_matter(client, coordinator):
    AgreementFactory(municipality=municipality("Borlänge"), title="Överenskommelse Borlänge", areas=0)
    AgreementFactory(municipality=municipality("Rättvik"), title="Överenskommelse Rättvik", areas=0)
    AgreementFactory(municipality=municipality("Mora"), title="Överenskommelse Mora", areas=0)
    client.force_login(coordinator)
    _, found = hits(client, "borlange")
    assert len(found) == 1 and "Borlänge" in found[0]
    _, found = hits(client, "rattvik")
    assert len(found) == 1 and "<mark>Rättvik</mark>" in found[0]
    # and the other way: accents in the query, none in the text
    found_area = area(goal="Korutbyte mellan kulturskolor och ovriga aktorer")
    _, found = hits(client, "övriga aktörer")
    assert len(found) == 1 and f"#area-{found_area.pk}" in found[0]


def test_swedish_stemming_and_the_case_number(client, coordinator):
    agreement = AgreementFactory(title="Samverkan kring bibliotek", case_number="RD 2023/0142", areas=0)
    CollaborationAreaFactory(agreement=agreement, goal="Biblioteken i länet samarbetar om läsfrämjande.")
    client.force_login(coordinator)
    _, found = hits(client, "biblioteken")
    assert len(found) == 2  # the title (bibliotek) and the goal (biblioteken)
    _, found = hits(client, "RD 2023/0142")
    assert len(found) == 1 and "<mark>RD</mark> <mark>2023/0142</mark>" in found[0]


def test_ranked_best_first(client, coordinator):
    area(
        title="Allmänt",
        goal="Lite om allt.",
        region_commitment="Regionen bidrar; bland annat till dans.",
    )
    area(title="Dans i hela länet", goal="Dans för unga: dansgrupper, dansläger och dans i skolan.")
    client.force_login(coordinator)
    _, found = hits(client, "dans")
    assert len(found) == 2
    assert "Dans i hela länet" in found[0] and "Allmänt" in found[1]


def test_a_falun_user_never_finds_mora(client, falun_head):
    falun = AgreementFactory(municipality=municipality("Falun"), title="Falun: körsång i länet", areas=0)
    mora = AgreementFactory(municipality=municipality("Mora"), title="Mora: körsång i länet", areas=0)
    CollaborationAreaFactory(agreement=mora, goal="Körsång för alla i Mora.")
    ReviewComment.objects.create(agreement=mora, round=1, author=mora.created_by, text="Mer körsång, tack.")
    meeting = DialogueMeetingFactory(participants=[municipality("Mora")], minutes="Körsång diskuterades.")
    ActionPointFactory(meeting=meeting, description="Körsång i Mora kyrka")
    client.force_login(falun_head)
    body, found = hits(client, "körsång")
    assert len(found) == 1 and f'href="{reverse("workflows:agreement", args=[falun.pk])}"' in found[0]
    assert "Mora" not in body.split('<ol class="search-results">')[1]
    _, found = hits(client, "mora")
    assert found == []


def test_follow_ups_meetings_and_action_points_are_found(client, coordinator):
    follow_up = FollowUpFactory(review_comment="Bra arbete med hembygdsföreningarna.")
    entry = follow_up.entries.first()
    entry.narrative = "Folkhögskolan har startat en cirkel om hembygdsforskning."
    entry.save()
    meeting = DialogueMeetingFactory(place="Leksands kulturhus", minutes="Hembygdsrörelsen presenterade sig.")
    ActionPointFactory(meeting=meeting, description="Bjuda in hembygdsförbundet")
    client.force_login(coordinator)
    body, found = hits(client, "hembygdsforskning")
    assert len(found) == 1 and "Folkhögskolan" in found[0]
    _, found = hits(client, "leksand")
    assert len(found) == 1 and reverse("workflows:meeting", args=[meeting.pk]) in found[0]
    _, found = hits(client, "hembygdsförbundet")
    assert len(found) == 1 and reverse("workflows:meeting", args=[meeting.pk]) in found[0]


def test_html_in_the_text_is_escaped_in_the_highlight(client, coordinator):
    area(goal='<script>alert("Rättvik")</script> <img src=x onerror=alert(1)> & Rättvik')
    client.force_login(coordinator)
    body, found = hits(client, "rattvik")
    assert len(found) == 1
    assert "<script>alert" not in body and "<img src=x" not in body
    assert "&lt;script&gt;" in found[0] and "&lt;img src=x onerror=alert(1)&gt;" in found[0]
    assert "<mark>Rättvik</mark>" in found[0] and "&amp;" in found[0]
    # the query itself, echoed back, is escaped too
    body, _ = hits(client, '<b>"x"</b>')
    assert "<b>" not in body.split("<main")[1]


@pytest.mark.parametrize("q", ["", "   ", "och att", "!!! ::: &&&", "-", '"', "a" * 200, "(((", "\\"])
def test_odd_queries_give_a_clear_page(client, coordinator, q):
    AgreementFactory()
    client.force_login(coordinator)
    response = client.get(URL, {"q": q})
    assert response.status_code == 200
    assert "Sök" in response.content.decode()


def test_a_huge_query_is_refused_next_to_the_field(client, coordinator):
    client.force_login(coordinator)
    response = client.get(URL, {"q": "kultur " * 5000})
    assert response.status_code == 400
    body = response.content.decode()
    assert 'aria-invalid="true"' in body and "som mest 200 tecken" in body


def test_a_nul_character_is_refused_not_a_500(client, coordinator):
    client.force_login(coordinator)
    response = client.get(URL, {"q": "kultur\x00"})
    assert response.status_code == 400


def test_search_needs_a_signed_in_user(client):
    response = client.get(URL, {"q": "mora"})
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_queries_do_not_grow_with_the_hits(client, coordinator, django_assert_max_num_queries):
    for i in range(30):
        agreement = AgreementFactory(
            municipality=municipality("Mora") if i % 2 else municipality("Falun"),
            title=f"Teater {i}",
            stage="withdrawn",
            areas=0,
        )
        CollaborationAreaFactory(agreement=agreement, goal="Teater för barn.")
    client.force_login(coordinator)
    client.get(URL, {"q": "teater"})
    with django_assert_max_num_queries(12):
        body, found = hits(client, "teater")
    assert len(found) == 50


def test_the_stored_documents_are_the_documents_of_vectors_py(coordinator):
    """Migration cases/0013 spells each table's document out in SQL (a generated
    column): it must stay exactly the expression of cases/search/vectors.py, on
    rows written and then changed."""
    from cases.search import selectors, vectors

    found = area(title="Läsfrämjande", goal="Fler barn läser i Rättvik.", contacts="Åsa Öberg")
    FollowUpFactory(agreement=found.agreement, review_comment="Godkänd av samordnaren.")
    ActionPointFactory(description="Bjud in biblioteken", owner_name="Lars")
    DialogueMeetingFactory(place="Dalarnas museum", minutes="Kulturskolan diskuterades.")
    ReviewComment.objects.create(agreement=found.agreement, round=1, text="Förtydliga målet.", author=coordinator)
    found.goal = "Fler barn och unga läser."
    found.save()
    for kind in selectors.KINDS:
        rows = kind.model.objects.all()
        assert rows.exists(), kind.key
        differing = rows.alias(
            stored=Cast(vectors.StoredVector(kind.model), TextField()),
            expected=Cast(kind.document(), TextField()),
        ).exclude(stored=F("expected"))
        assert list(differing.values_list("pk", flat=True)) == [], kind.key
