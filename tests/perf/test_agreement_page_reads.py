"""The agreement page reads its lists as JSON arrays of one row
(``cases.agreements.selectors.agreement_page_for``, #20): the instances it
makes must hold what the prefetches of ``agreement_for`` hold, dates and times
included, in the same order."""

import pytest

from cases.agreements.selectors import agreement_for, agreement_page_for
from cases.models import AgreementDocument, DocumentProduction
from tests.perf.test_query_budgets import LARGE_IN_FORCE

pytestmark = pytest.mark.django_db


def fields(instance, *related):
    """Every field of ``instance``, and of its ``related`` objects (None when unset)."""
    values = {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}
    for name in related:
        other = getattr(instance, name)
        values[name] = None if other is None else fields(other)
    return values


def test_page_reads_what_the_prefetches_read(load):
    agreement = load.scripted(LARGE_IN_FORCE, municipality=load.municipality(2))
    # Signed by both: its production was queued; as if it had failed twice.
    production = DocumentProduction.objects.get(agreement=agreement)
    production.state, production.error, production.attempts = DocumentProduction.State.FAILED, "Nej.", 2
    production.save()
    user = load.coordinator
    old, page = agreement_for(user, agreement.pk), agreement_page_for(user, agreement.pk)
    new = page.agreement
    assert fields(new) == fields(old)
    assert [fields(a) for a in new.current_areas] == [fields(a) for a in old.current_areas]
    assert [[fields(p) for p in a.priorities.all()] for a in new.current_areas] == [
        [fields(p) for p in a.priorities.all()] for a in old.current_areas
    ]
    for name, related in (
        ("decisions", ("minutes", "document")),
        ("documents", ("revision",)),
        ("signatures", ("signed_copy", "organisation")),
        ("attachments", ()),
        ("comments", ("area",)),
    ):
        assert [fields(x, *related) for x in getattr(new, name).all()] == [
            fields(x, *related) for x in getattr(old, name).all()
        ], name
    assert len(new.decisions.all()) >= 3 and len(new.signatures.all()) == 2 and len(new.current_areas) == 8
    assert [a.uploaded_by.full_name for a in new.attachments.all()] == [
        a.uploaded_by.full_name for a in old.attachments.all()
    ]
    assert [c.author.full_name for c in new.comments.all()] == [c.author.full_name for c in old.comments.all()]
    follow_ups = list(old.follow_ups.order_by("year"))
    assert [fields(f) for f in page.follow_ups] == [fields(f) for f in follow_ups]
    assert [[fields(e, "area") for e in f.entries.all()] for f in page.follow_ups] == [
        [fields(e, "area") for e in f.entries.select_related("area")] for f in follow_ups
    ]
    assert len(page.follow_ups) == 4
    production = old.productions.filter(kind=AgreementDocument.Kind.SIGNED_AGREEMENT).first()
    assert fields(page.signed_production, "document") == fields(production, "document")
