import pytest
from django.apps import apps
from simple_history.models import HistoricalChanges

from accounts.models import SignInEvent
from cases.audit.models import AuditExport
from cases.models import Stage
from tests.factories import agreement_in_stage

from .helpers import at


@pytest.fixture
def county(coordinator, mora_head, falun_head, time_machine, history_keeps_client_time):
    """Two agreements with history on two days: Mora's signed on 2 March 2026,
    Falun's sent for review on 3 March. Many rows share a timestamp (the
    clock stands still within each day), across tables."""
    time_machine.move_to(at(9, 0, day=2), tick=False)
    mora = agreement_in_stage(Stage.IN_FORCE, "Mora", coordinator=coordinator, head=mora_head)
    time_machine.move_to(at(9, 0, day=3), tick=False)
    falun = agreement_in_stage(Stage.REVIEW, "Falun", coordinator=coordinator, head=falun_head)
    time_machine.move_to(at(12, 0, day=3), tick=False)
    return {"Mora": mora, "Falun": falun}


def dated_models():
    """Every table of the log, straight from the model registry: the history
    tables with a date, the sign-in events and the exports."""
    historical = [
        m
        for m in apps.get_models()
        if issubclass(m, HistoricalChanges) and hasattr(m, "history_date") and m._meta.managed
    ]
    return historical + [SignInEvent, AuditExport]


def all_rows():
    """{(table, id)} of every row the log should hold."""
    rows = set()
    for model in dated_models():
        pk = "history_id" if issubclass(model, HistoricalChanges) else "pk"
        rows |= {(model._meta.db_table, i) for i in model._default_manager.values_list(pk, flat=True)}
    return rows


# How each kind of row belongs to a municipality / a plan period, written out
# from the domain (not from cases.audit.log, which these tests check).
MUNICIPALITY = {
    "cases.agreement": "municipality",
    "cases.actionpoint": "municipality",
    "cases.collaborationarea": "agreement__municipality",
    "cases.agreementrevision": "agreement__municipality",
    "cases.attachment": "agreement__municipality",
    "cases.reviewcomment": "agreement__municipality",
    "cases.decision": "agreement__municipality",
    "cases.signature": "agreement__municipality",
    "cases.agreementdocument": "agreement__municipality",
    "cases.documentproduction": "agreement__municipality",
    "cases.followup": "agreement__municipality",
    "cases.followupentry": "follow_up__agreement__municipality",
    "workflows.taskdeadline": "task__process__agreementprocess__agreement__municipality",
    "accounts.membership": "organisation",
    "accounts.organisation": "id",
}

PLAN_PERIOD = {
    "cases.agreement": "plan_period",
    "cases.actionpoint": "agreement__plan_period",
    "cases.collaborationarea": "agreement__plan_period",
    "cases.agreementrevision": "agreement__plan_period",
    "cases.attachment": "agreement__plan_period",
    "cases.reviewcomment": "agreement__plan_period",
    "cases.decision": "agreement__plan_period",
    "cases.signature": "agreement__plan_period",
    "cases.agreementdocument": "agreement__plan_period",
    "cases.documentproduction": "agreement__plan_period",
    "cases.followup": "agreement__plan_period",
    "cases.followupentry": "follow_up__agreement__plan_period",
    "workflows.taskdeadline": "task__process__agreementprocess__agreement__plan_period",
    "cases.planpriority": "plan_period",
    "cases.planperiod": "id",
}


def audited_label(model):
    return model.instance_type._meta.label_lower if issubclass(model, HistoricalChanges) else model._meta.label_lower


def rows_where(lookup_for):
    """{(table, id)} of the rows of each table that match ``lookup_for(model)``
    (a dict of lookups, or None for none of the table's rows)."""
    rows = set()
    for model in dated_models():
        lookup = lookup_for(model)
        if lookup is None:
            continue
        pk = "history_id" if issubclass(model, HistoricalChanges) else "pk"
        rows |= {(model._meta.db_table, i) for i in model._default_manager.filter(**lookup).values_list(pk, flat=True)}
    return rows


def by_user(user):
    return lambda model: {"history_user": user} if issubclass(model, HistoricalChanges) else {"user": user}


def by_time(since, until):
    def lookup(model):
        field = "history_date" if issubclass(model, HistoricalChanges) else "at"
        return {f"{field}__gte": since, f"{field}__lt": until}

    return lookup


def by_municipality(organisation):
    def lookup(model):
        path = MUNICIPALITY.get(audited_label(model))
        return {path: organisation.pk} if path else None

    return lookup


def by_plan_period(period):
    def lookup(model):
        path = PLAN_PERIOD.get(audited_label(model))
        return {path: period.pk} if path else None

    return lookup


def by_kind(key):
    return lambda model: {} if audited_label(model) == key else None


def both(*lookups):
    def lookup(model):
        found = {}
        for one in lookups:
            part = one(model)
            if part is None:
                return None
            found.update(part)
        return found

    return lookup
