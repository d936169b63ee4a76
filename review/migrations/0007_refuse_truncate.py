"""A lead's adjudications and QA audits are evidence: TRUNCATE of their tables is refused
(PostgreSQL), as for the audit trail (supportability 0011)."""

from django.db import migrations

from supportability.migration_operations import GuardTruncate


class Migration(migrations.Migration):
    dependencies = [
        ("review", "0006_rereview_triggers"),
        ("supportability", "0011_audit_sealing"),
    ]

    operations = [GuardTruncate("review_adjudication"), GuardTruncate("review_qaaudit")]
