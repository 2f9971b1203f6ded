"""Reference data: the plan periods 2019–2022 (closed) and 2023–2026 (active),
and the four development areas 2023–2026 named in the regional culture and
education plan ("Samverkan med kommunerna", shared/seed)."""

import datetime

from django.db import migrations
from django.utils import timezone

REASON = "Reference data loaded by migration cases.0002"
PERIODS = [
    ("2019–2022", datetime.date(2019, 1, 1), datetime.date(2022, 12, 31), False),
    ("2023–2026", datetime.date(2023, 1, 1), datetime.date(2026, 12, 31), True),
]
PRIORITIES_2023 = [
    ("chefsnatverk", "Stödja utvecklandet av ett kommunalt chefsnätverk inom kulturområdet"),
    ("lanskulturvardar", "Utveckla samverkan med kommuner som är värdar för länskulturinstitutioner"),
    ("hallbara-livsmiljoer", "Bidra till att utveckla hållbara livsmiljöer"),
    (
        "kulturskolor",
        "Utreda förutsättningarna för regionalt stöd i syfte att främja samverkan "
        "mellan Dalarnas kommunala musik-/kulturskolor",
    ),
]


def load(apps, schema_editor):
    PlanPeriod = apps.get_model("cases", "PlanPeriod")
    PlanPriority = apps.get_model("cases", "PlanPriority")
    HistoricalPlanPeriod = apps.get_model("cases", "HistoricalPlanPeriod")
    HistoricalPlanPriority = apps.get_model("cases", "HistoricalPlanPriority")
    now = timezone.now()
    periods = {}
    for name, starts, ends, active in PERIODS:
        period, created = PlanPeriod.objects.get_or_create(
            name=name, defaults={"starts_on": starts, "ends_on": ends, "is_active": active}
        )
        periods[name] = period
        if created:
            HistoricalPlanPeriod.objects.create(
                id=period.pk,
                name=name,
                starts_on=starts,
                ends_on=ends,
                is_active=active,
                history_date=now,
                history_type="+",
                history_change_reason=REASON,
            )
    for code, title in PRIORITIES_2023:
        priority, created = PlanPriority.objects.get_or_create(
            plan_period=periods["2023–2026"], code=code, defaults={"title": title}
        )
        if created:
            HistoricalPlanPriority.objects.create(
                id=priority.pk,
                plan_period_id=priority.plan_period_id,
                code=code,
                title=title,
                description="",
                history_date=now,
                history_type="+",
                history_change_reason=REASON,
            )


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
