from django.db import migrations

from cases.audit.operations import InstallAuditFunctions


class Migration(migrations.Migration):
    """The SQL functions behind the append-only triggers and the hash chain
    (cases/audit/sql.py). History tables depend on this migration to install
    their triggers with InstallAuditTriggers."""

    initial = True
    dependencies = []
    operations = [InstallAuditFunctions()]
