import django.utils.timezone
from django.db import migrations, models

from cases.audit.operations import InstallAuditTriggers


class Migration(migrations.Migration):
    """Signed checkpoints of the hash chains (cases/audit/checkpoints.py), stored
    append-only and chained like every audit record."""

    dependencies = [
        ("audit", "0004_database_time_and_fixed_search_path"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditCheckpoint",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("chain_hash", models.CharField(blank=True, default="", editable=False, max_length=64)),
                ("at", models.DateTimeField(db_index=True, default=django.utils.timezone.now, verbose_name="time")),
                ("message", models.TextField(verbose_name="signed message")),
                ("signature", models.CharField(max_length=128, verbose_name="signature")),
                ("key_id", models.CharField(max_length=16, verbose_name="key")),
            ],
            options={
                "verbose_name": "audit checkpoint",
                "verbose_name_plural": "audit checkpoints",
                "ordering": ["id"],
            },
        ),
        InstallAuditTriggers("audit", "auditcheckpoint"),
    ]
