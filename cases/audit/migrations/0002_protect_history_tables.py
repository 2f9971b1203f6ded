from django.db import migrations

from cases.audit.operations import InstallAuditTriggers


class Migration(migrations.Migration):
    """Every history table that exists so far, and the sign-in events, become
    append-only; those with a hash column are chained. The rows they already
    hold (e.g. the reference data of accounts.0002) are chained first.

    A history table added later gets one InstallAuditTriggers line in the
    migration of its own app (see cases/audit/operations.py)."""

    dependencies = [
        ("audit", "0001_audit_functions"),
        ("accounts", "0003_signinevent"),  # creates accounts.SignInEvent
        ("cases", "0003_agreements_areas_decisions_signatures"),
        ("workflows", "0001_initial"),
    ]
    operations = [
        InstallAuditTriggers("accounts", "historicaluser"),
        InstallAuditTriggers("accounts", "historicalorganisation"),
        InstallAuditTriggers("accounts", "historicalmembership"),
        InstallAuditTriggers("accounts", "signinevent"),
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
        InstallAuditTriggers("workflows", "historicaltaskdeadline"),
    ]
