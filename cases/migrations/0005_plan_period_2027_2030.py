"""The next plan period, 2027–2030, so that agreements can be renewed into it.
Its priorities are added by the region when the new plan is adopted (admin)."""

import datetime

from django.db import migrations
from django.utils import timezone

REASON = "Reference data loaded by migration cases.0005"


def load(apps, schema_editor):
    PlanPeriod = apps.get_model("cases", "PlanPeriod")
    HistoricalPlanPeriod = apps.get_model("cases", "HistoricalPlanPeriod")
    period, created = PlanPeriod.objects.get_or_create(
        name="2027–2030",
        defaults={"starts_on": datetime.date(2027, 1, 1), "ends_on": datetime.date(2030, 12, 31), "is_active": True},
    )
    if created:
        HistoricalPlanPeriod.objects.create(
            id=period.pk,
            name=period.name,
            starts_on=period.starts_on,
            ends_on=period.ends_on,
            is_active=True,
            history_date=timezone.now(),
            history_type="+",
            history_change_reason=REASON,
        )


class Migration(migrations.Migration):
    dependencies = [("cases", "0004_follow_ups_and_dialogue_meetings")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
