"""Reference data: Region Dalarna and its 15 municipalities, with history rows
saying where they came from."""

from django.db import migrations
from django.utils import timezone

REGION = "Region Dalarna"
MUNICIPALITIES = [
    ("2021", "Vansbro"),
    ("2023", "Malung-Sälen"),
    ("2026", "Gagnef"),
    ("2029", "Leksand"),
    ("2031", "Rättvik"),
    ("2034", "Orsa"),
    ("2039", "Älvdalen"),
    ("2061", "Smedjebacken"),
    ("2062", "Mora"),
    ("2080", "Falun"),
    ("2081", "Borlänge"),
    ("2082", "Säter"),
    ("2083", "Hedemora"),
    ("2084", "Avesta"),
    ("2085", "Ludvika"),
]
REASON = "Reference data loaded by migration accounts.0002"


def load(apps, schema_editor):
    Organisation = apps.get_model("accounts", "Organisation")
    Historical = apps.get_model("accounts", "HistoricalOrganisation")
    now = timezone.now()
    rows = [("region", REGION, "")] + [("municipality", name, code) for code, name in MUNICIPALITIES]
    for kind, name, code in rows:
        org, created = (
            Organisation.objects.get_or_create(kind=kind, kommunkod=code, defaults={"name": name, "is_active": True})
            if kind == "municipality"
            else Organisation.objects.get_or_create(kind=kind, name=name, defaults={"kommunkod": "", "is_active": True})
        )
        if created:
            Historical.objects.create(
                id=org.pk,
                kind=org.kind,
                name=org.name,
                kommunkod=org.kommunkod,
                is_active=True,
                history_date=now,
                history_type="+",
                history_change_reason=REASON,
            )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
