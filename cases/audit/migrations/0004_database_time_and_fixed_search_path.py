from django.db import migrations

from cases.audit.operations import InstallAuditFunctions, InstallAuditTriggers


class Migration(migrations.Migration):
    """The audit functions again (cases/audit/sql.py): schema-qualified, with a
    fixed search path, the time of each row from the database clock, the
    superuser-only keep-time setting for generated data, and the parent check
    of many-to-many history. Every protected table's triggers are installed
    again with the new arguments; the many-to-many history tables, which have
    a hash column since cases.0007, are sealed and chained. UPDATE, DELETE and
    TRUNCATE on protected tables are taken from every role but the owner."""

    dependencies = [
        ("audit", "0003_audit_exports"),
        ("accounts", "0003_signinevent"),
        ("cases", "0007_chain_many_to_many_history"),
        ("workflows", "0002_open_task_index"),
    ]
    operations = [
        InstallAuditFunctions(),
        InstallAuditTriggers("accounts", "historicaluser"),
        InstallAuditTriggers("accounts", "historicalorganisation"),
        InstallAuditTriggers("accounts", "historicalmembership"),
        InstallAuditTriggers("accounts", "signinevent"),
        InstallAuditTriggers("audit", "auditexport"),
        InstallAuditTriggers("cases", "historicalplanperiod"),
        InstallAuditTriggers("cases", "historicalplanpriority"),
        InstallAuditTriggers("cases", "historicalagreement"),
        InstallAuditTriggers("cases", "historicalcollaborationarea"),
        InstallAuditTriggers("cases", "historicalcollaborationarea_priorities"),
        InstallAuditTriggers("cases", "historicalagreementrevision"),
        InstallAuditTriggers("cases", "historicalattachment"),
        InstallAuditTriggers("cases", "historicalreviewcomment"),
        InstallAuditTriggers("cases", "historicaldecision"),
        InstallAuditTriggers("cases", "historicalsignature"),
        InstallAuditTriggers("cases", "historicalfollowup"),
        InstallAuditTriggers("cases", "historicalfollowupentry"),
        InstallAuditTriggers("cases", "historicaldialoguemeeting"),
        InstallAuditTriggers("cases", "historicaldialoguemeeting_participants"),
        InstallAuditTriggers("cases", "historicalactionpoint"),
        InstallAuditTriggers("workflows", "historicaltaskdeadline"),
    ]
