"""The audit trail becomes a hash chain: seq, prev_hash and hash on every event, existing
events linked in id order (in Python, in batches, with the hash function the writer and the
verifier use), then required; on PostgreSQL a trigger refuses UPDATE and DELETE.

Stop the app's writers while this runs: events that old code inserts would have no seq."""

from __future__ import annotations

import django.utils.timezone
from django.db import migrations, models

from supportability.audit import GENESIS, event_hash

BATCH = 2_000

TRIGGER = "supportability_auditevent_append_only"

CREATE_TRIGGER = f"""
CREATE FUNCTION {TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING
        MESSAGE = 'audit events are append-only: ' || TG_OP
                  || ' of supportability_auditevent ' || OLD.id || ' refused',
        HINT = 'Record a new audit event instead; manage.py verify_audit checks the chain.',
        ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER {TRIGGER} BEFORE UPDATE OR DELETE ON supportability_auditevent
    FOR EACH ROW EXECUTE FUNCTION {TRIGGER}();
"""

DROP_TRIGGER = f"""
DROP TRIGGER IF EXISTS {TRIGGER} ON supportability_auditevent;
DROP FUNCTION IF EXISTS {TRIGGER}();
"""


def link_existing(apps, schema_editor):
    """Link the existing events in id order, a batch at a time (keyset on id); the updates
    go through executemany, which costs a fraction of bulk_update's CASE expressions."""
    AuditEvent = apps.get_model("supportability", "AuditEvent")
    seq, prev_hash, last_id = 0, GENESIS, 0
    with schema_editor.connection.cursor() as cursor:
        while True:
            batch = list(AuditEvent.objects.filter(id__gt=last_id).order_by("id")[:BATCH])
            if not batch:
                return
            rows = []
            for event in batch:
                seq += 1
                event.seq = seq
                event.hash = event_hash(event, prev_hash)
                rows.append((seq, prev_hash, event.hash, event.id))
                prev_hash = event.hash
            cursor.executemany(
                "UPDATE supportability_auditevent SET seq = %s, prev_hash = %s, hash = %s"
                " WHERE id = %s",
                rows,
            )
            last_id = batch[-1].id


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE_TRIGGER, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TRIGGER, params=None)


class Migration(migrations.Migration):
    dependencies = [("supportability", "0002_policy_taxonomy")]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="created_at",
            field=models.DateTimeField(db_index=True, default=django.utils.timezone.now),
        ),
        migrations.AddField(
            model_name="auditevent", name="seq", field=models.BigIntegerField(null=True)
        ),
        migrations.AddField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(max_length=64, null=True),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(max_length=64, null=True),
        ),
        migrations.RunPython(link_existing, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="auditevent", name="seq", field=models.BigIntegerField(unique=True)
        ),
        migrations.AlterField(
            model_name="auditevent", name="prev_hash", field=models.CharField(max_length=64)
        ),
        migrations.AlterField(
            model_name="auditevent", name="hash", field=models.CharField(max_length=64)
        ),
        migrations.RunPython(create_trigger, drop_trigger),
    ]
