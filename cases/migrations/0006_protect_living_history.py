from django.db import migrations

from cases.audit.operations import InstallAuditTriggers


class Migration(migrations.Migration):
    """The history of follow-ups and dialogue meetings is append-only and chained,
    like every other history table."""

    dependencies = [
        ("audit", "0002_protect_history_tables"),
        ("cases", "0005_plan_period_2027_2030"),
    ]
    operations = [
        InstallAuditTriggers("cases", "historicalfollowup"),
        InstallAuditTriggers("cases", "historicalfollowupentry"),
        InstallAuditTriggers("cases", "historicaldialoguemeeting"),
        InstallAuditTriggers("cases", "historicaldialoguemeeting_participants"),
        InstallAuditTriggers("cases", "historicalactionpoint"),
    ]
