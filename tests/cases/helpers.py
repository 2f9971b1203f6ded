"""What a step wrote to the history: which rows, who, why; and the day the
direct tests of the services run on (tests/cases/conftest.py)."""

import datetime
from contextlib import contextmanager

from django.apps import apps
from simple_history.models import HistoricalChanges

# A working day inside the plan period 2023–2026.
TODAY = datetime.date(2026, 3, 2)


def _history_models():
    """The history tables of the models (not those of their many-to-many links)."""
    return [
        m
        for m in apps.get_models()
        if issubclass(m, HistoricalChanges) and any(f.name == "history_change_reason" for f in m._meta.fields)
    ]


@contextmanager
def history_written():
    """The history rows written inside the block, as a sorted list of
    (model, change: + ~ -, who, why): what architecture.md item 6 asks each
    step's test to look at."""
    last = {
        model: model.objects.order_by("-history_id").values_list("history_id", flat=True).first() or 0
        for model in _history_models()
    }
    rows = []
    yield rows
    for model, before in last.items():
        for row in model.objects.filter(history_id__gt=before).select_related("history_user"):
            rows.append(
                (
                    model.instance_type._meta.model_name,
                    row.history_type,
                    row.history_user,
                    row.history_change_reason,
                )
            )
    rows.sort(key=lambda r: (r[0], r[1], str(r[3])))


def rows(*expected):
    """``expected`` as history_written lists them (reasons as the text written now)."""
    return sorted(
        ((model, change, who, str(why) if why is not None else None) for model, change, who, why in expected),
        key=lambda r: (r[0], r[1], str(r[3])),
    )
