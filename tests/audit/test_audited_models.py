"""Code cannot write audited rows around history: the bulk paths and deletion
are refused with an error that says what to do instead."""

import pytest
from django.apps import apps
from simple_history.utils import bulk_create_with_history

from accounts.audited_models import AppendOnlyModel, AuditedModel, HistoryBypassRefused, bulk_writes_allowed
from accounts.models import Membership, Organisation, SignInEvent, User
from cases.models import Agreement, CollaborationArea, PlanPeriod
from workflows.models import TaskDeadline

from .conftest import verify

pytestmark = pytest.mark.django_db

AUDITED = sorted(
    (m for m in apps.get_models() if issubclass(m, AuditedModel) and not m._meta.abstract),
    key=lambda m: m._meta.label,
)


def test_the_audited_models_are_the_ones_with_history():
    labels = {m._meta.label for m in AUDITED}
    assert {
        "accounts.User",
        "accounts.Organisation",
        "accounts.Membership",
        "cases.PlanPeriod",
        "cases.PlanPriority",
        "cases.Agreement",
        "cases.CollaborationArea",
        "cases.AgreementRevision",
        "cases.Attachment",
        "cases.ReviewComment",
        "cases.Decision",
        "cases.Signature",
        "workflows.TaskDeadline",
    } <= labels
    assert "cases.CaseNumberSequence" not in labels  # a counter, not a record


# Append-only records whose rows are the record itself (no history row to
# skip), inserted many at once: the daily reminder sweep's notices, so that
# its number of queries does not grow with the number of steps.
BULK_INSERTED_RECORDS = {"workflows.StepNotice"}


@pytest.mark.parametrize("model", AUDITED, ids=lambda m: m._meta.label)
def test_update_and_delete_are_refused_on_every_audited_model(model):
    with pytest.raises(HistoryBypassRefused) as excinfo:
        model.objects.all().update(pk=0)
    message = str(excinfo.value)
    assert f"{model._meta.object_name}.objects.update() is refused" in message
    assert "without a history row" in message
    assert "Use the service functions" in message

    with pytest.raises(HistoryBypassRefused, match=r"delete\(\) is refused"):
        model.objects.all().delete()
    if model._meta.label in BULK_INSERTED_RECORDS:
        assert issubclass(model, AppendOnlyModel)
        assert model.objects.bulk_create([]) == []
    else:
        with pytest.raises(HistoryBypassRefused, match=r"bulk_create\(\) is refused"):
            model.objects.bulk_create([])
    with pytest.raises(HistoryBypassRefused, match=r"bulk_update\(\) is refused"):
        model.objects.bulk_update([], ["pk"])
    # Django's internal manager (related managers, refresh_from_db) is the refusing one too.
    with pytest.raises(HistoryBypassRefused):
        model._base_manager.all().update(pk=0)


def test_nothing_was_changed_by_a_refused_update(agreement):
    with pytest.raises(HistoryBypassRefused):
        Agreement.objects.filter(pk=agreement.pk).update(title="Ändrad utan historik")
    with pytest.raises(HistoryBypassRefused):
        Agreement.objects.for_user(agreement.created_by).update(title="Ändrad utan historik")
    agreement.refresh_from_db()
    assert agreement.title != "Ändrad utan historik"


def test_instances_are_never_deleted(agreement):
    area = agreement.areas.first()
    for obj in (agreement, area, agreement.municipality, agreement.created_by):
        with pytest.raises(HistoryBypassRefused, match=r"delete\(\) on an instance is refused"):
            obj.delete()
    assert Agreement.objects.filter(pk=agreement.pk).exists()
    assert CollaborationArea.objects.filter(pk=area.pk).exists()


def test_related_managers_refuse_too(agreement):
    with pytest.raises(HistoryBypassRefused):
        agreement.areas.update(title="x")
    with pytest.raises(HistoryBypassRefused):
        agreement.areas.all().delete()
    with pytest.raises(HistoryBypassRefused):
        agreement.municipality.memberships.update(is_active=False)
    with pytest.raises(HistoryBypassRefused):
        TaskDeadline.objects.filter(task__process__agreementprocess__agreement=agreement).update(due_on=None)


def test_existing_querysets_keep_their_methods(agreement):
    assert agreement in Agreement.objects.for_user(agreement.created_by).live()
    assert Membership.objects.active().filter(user=agreement.created_by).exists()
    assert User.objects.get_by_natural_key(agreement.created_by.email.upper()) == agreement.created_by


def test_the_escape_hatch_allows_bulk_inserts_with_history(db):
    """The load-data generator's path: bulk_create_with_history inside
    bulk_writes_allowed() writes the rows and their history rows, chained."""
    periods = [
        PlanPeriod(name=f"{year}–{year + 3}", starts_on=f"{year}-01-01", ends_on=f"{year + 3}-12-31")
        for year in (2031, 2035, 2039)
    ]
    with bulk_writes_allowed(reason="test of the load-data path"):
        bulk_create_with_history(periods, PlanPeriod, default_change_reason="load data")
        with pytest.raises(HistoryBypassRefused):
            PlanPeriod.objects.filter(name="2031–2034").delete()  # never, not even here
    assert PlanPeriod.history.filter(name__in=[p.name for p in periods], history_type="+").count() == 3
    assert all(len(h.history_hash) == 64 for h in PlanPeriod.history.all())
    assert verify()[0] == 0
    # Outside the block the hatch is closed again.
    with pytest.raises(HistoryBypassRefused):
        PlanPeriod.objects.bulk_create([PlanPeriod(name="2043–2046", starts_on="2043-01-01", ends_on="2046-12-31")])


def test_the_escape_hatch_needs_a_reason():
    with pytest.raises(ValueError), bulk_writes_allowed(reason=" "):
        pass


def test_sign_in_events_are_append_only_in_code(db):
    event = SignInEvent.objects.create(kind=SignInEvent.Kind.FAILED, email="x@example.se")
    event.email = "y@example.se"
    with pytest.raises(HistoryBypassRefused, match="append-only"):
        event.save()
    with pytest.raises(HistoryBypassRefused):
        SignInEvent.objects.filter(pk=event.pk).update(email="y@example.se")
    with pytest.raises(HistoryBypassRefused):
        event.delete()
    assert SignInEvent.objects.get(pk=event.pk).email == "x@example.se"


def test_the_case_number_counter_is_not_audited(db):
    """next_case_number bulk-creates its counter row; that must keep working."""
    from cases.agreements.services import next_case_number

    first = next_case_number(year=2099)
    second = next_case_number(year=2099)
    assert first.endswith("/0001") and second.endswith("/0002")


def test_organisation_changes_still_leave_history(db):
    organisation = Organisation.objects.get(kommunkod="2062")
    rows = organisation.history.count()
    organisation.name = "Mora kommun"
    organisation.save()
    assert organisation.history.count() == rows + 1
