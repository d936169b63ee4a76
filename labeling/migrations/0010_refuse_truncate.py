"""Labels are evidence: TRUNCATE of the label table is refused (PostgreSQL), as for the
audit trail (supportability 0011)."""

from django.db import migrations

from supportability.migration_operations import GuardTruncate


class Migration(migrations.Migration):
    dependencies = [
        ("labeling", "0009_item_queued_at"),
        ("supportability", "0011_audit_sealing"),
    ]

    operations = [GuardTruncate("labeling_label")]
