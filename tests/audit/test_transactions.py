"""History is written in the same transaction as the change it records: a
step that fails half-way leaves no history row, and every change of a
user's groups happens in a step whose history says who and why."""

import ast
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.db import transaction

from accounts import services as account_services
from accounts.models import Membership, Role, User
from accounts.permissions import GROUP_PREFIX
from cases.agreements import services
from cases.models import Agreement, CaseNumberSequence
from tests.factories import current_period, municipality, region, user_with_role

from .conftest import verify

pytestmark = pytest.mark.django_db


class Interrupted(Exception):
    pass


def test_a_step_that_fails_half_way_leaves_no_history(coordinator):
    agreements = Agreement.objects.count()
    history = Agreement.history.count()
    counters = list(CaseNumberSequence.objects.values_list("prefix", "year", "last_number"))

    with pytest.raises(Interrupted), transaction.atomic():
        agreement = services.agreement_create(
            actor=coordinator, municipality=municipality("Mora"), plan_period=current_period(), title="Avbrutet"
        )
        assert Agreement.history.filter(id=agreement.pk).count() == 1  # written inside the transaction...
        raise Interrupted  # ...and the transaction then fails

    assert Agreement.objects.count() == agreements
    assert Agreement.history.count() == history  # ...so it is gone with it
    assert list(CaseNumberSequence.objects.values_list("prefix", "year", "last_number")) == counters
    assert verify()[0] == 0


def test_a_refused_step_writes_no_history(coordinator):
    history = Agreement.history.count()
    with pytest.raises(Exception):  # noqa: B017 (ValidationError: no title)
        services.agreement_create(
            actor=coordinator, municipality=municipality("Mora"), plan_period=current_period(), title="  "
        )
    assert Agreement.history.count() == history


def test_group_changes_are_recorded_by_the_membership_history(administrator):
    """sync_user_groups derives groups from memberships; each call happens in a
    service whose history row (membership or user) says who and why."""
    user = User.objects.create_user(email="ny@example.se", full_name="Ny Person")
    membership = account_services.membership_create(
        actor=administrator, user=user, organisation=region(), role=Role.AUDITOR, reason="Ny revisor"
    )
    assert user.groups.filter(name__startswith=GROUP_PREFIX).count() == 1
    created = membership.history.get(history_type="+")
    assert (created.history_user, created.history_change_reason) == (administrator, "Ny revisor")

    account_services.membership_end(actor=administrator, membership=membership, reason="Uppdraget slut")
    assert user.groups.filter(name__startswith=GROUP_PREFIX).count() == 0
    ended = membership.history.latest()
    assert (ended.history_user, ended.history_change_reason, ended.is_active) == (
        administrator,
        "Uppdraget slut",
        False,
    )


def test_deactivating_a_user_records_who_removed_their_access(administrator):
    user = user_with_role(Role.CULTURAL_HEAD, "Falun")
    account_services.user_deactivate(actor=administrator, user=user, reason="Slutat")
    assert user.groups.count() == 0
    latest = user.history.latest()
    assert (latest.is_active, latest.history_user, latest.history_change_reason) == (False, administrator, "Slutat")
    assert Membership.objects.filter(user=user, is_active=True).exists()  # memberships are kept; access is not


def test_only_the_account_services_change_groups():
    """sync_user_groups is called from accounts/services.py only (each call in
    a service with audit_context and a history row). A new caller elsewhere
    must write such a record too; this test then needs updating with it."""
    base = Path(settings.BASE_DIR)
    ours = [Path(app.path) for app in apps.get_app_configs() if Path(app.path).is_relative_to(base)]
    callers = []
    for path in {p for directory in ours for p in directory.rglob("*.py")}:
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
                if name == "sync_user_groups":
                    callers.append(str(path.relative_to(settings.BASE_DIR)))
    assert callers, "sync_user_groups is no longer called: update this test"
    assert set(callers) == {"accounts/services.py"}
