"""Audit sealing (docs/decisions/0004-audit-sealing.md): events are written unsealed and a
sealer links them into the chain later, so seq, prev_hash and hash may be empty, once. The
row trigger now lets an UPDATE through only when it seals an unsealed event and changes
nothing else; statement triggers refuse TRUNCATE of the audit trail and the snapshots.
The existing events are sealed already: the chain goes on from its head."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

from supportability.migration_operations import GuardTruncate

TRIGGER = "supportability_auditevent_append_only"


def _function(body: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION {TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
{body}
    RAISE EXCEPTION USING
        MESSAGE = 'audit events are append-only: ' || TG_OP
                  || ' of supportability_auditevent ' || OLD.id || ' refused',
        HINT = 'Record a new audit event instead; manage.py verify_audit checks the chain.',
        ERRCODE = 'restrict_violation';
END
$$;
"""


SEALING = _function(
    """    -- The sealer links an unsealed event into the chain: seq, prev_hash and hash, once.
    IF TG_OP = 'UPDATE' AND OLD.seq IS NULL AND NEW.seq IS NOT NULL
       AND to_jsonb(NEW) - 'seq' - 'prev_hash' - 'hash'
           = to_jsonb(OLD) - 'seq' - 'prev_hash' - 'hash' THEN
        RETURN NEW;
    END IF;"""
)
APPEND_ONLY = _function("")


def allow_sealing(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SEALING, params=None)


def refuse_every_update(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("supportability", "0010_apitoken_last_used_at"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditVerification",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "trigger",
                    models.CharField(
                        choices=[
                            ("schedule", "the hourly check"),
                            ("lead", "a lead"),
                            ("command", "manage.py verify_audit"),
                            ("sealer", "the sealer, which refused to seal"),
                        ],
                        max_length=10,
                    ),
                ),
                ("started_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("finished_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("intact", models.BooleanField()),
                ("events", models.BigIntegerField(default=0)),
                ("head_seq", models.BigIntegerField(default=0)),
                ("unsealed", models.BigIntegerField(default=0)),
                ("checkpoints", models.BigIntegerField(default=0)),
                ("checkpoint_seq", models.BigIntegerField(blank=True, null=True)),
                ("checkpoint_at", models.DateTimeField(blank=True, null=True)),
                ("broken_kind", models.CharField(blank=True, max_length=20)),
                ("broken_seq", models.BigIntegerField(blank=True, null=True)),
                ("detail", models.TextField(blank=True)),
            ],
            options={
                "ordering": ("-finished_at", "-id"),
            },
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="seq",
            field=models.BigIntegerField(blank=True, null=True, unique=True),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                condition=models.Q(("seq__isnull", True)), fields=["id"], name="auditevent_unsealed"
            ),
        ),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("hash__isnull", True), ("prev_hash__isnull", True), ("seq__isnull", True)
                    ),
                    models.Q(
                        ("hash__isnull", False), ("prev_hash__isnull", False), ("seq__gte", 1)
                    ),
                    _connector="OR",
                ),
                name="auditevent_sealed_whole",
            ),
        ),
        migrations.AddField(
            model_name="auditverification",
            name="requested_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddConstraint(
            model_name="auditverification",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("checkpoints__gte", 0),
                    ("events__gte", 0),
                    ("head_seq__gte", 0),
                    ("unsealed__gte", 0),
                ),
                name="auditverification_counts_non_negative",
            ),
        ),
        migrations.AddConstraint(
            model_name="auditverification",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("broken_kind", ""), ("intact", True)),
                    models.Q(("intact", False), models.Q(("broken_kind", ""), _negated=True)),
                    _connector="OR",
                ),
                name="auditverification_broken_named",
            ),
        ),
        migrations.RunPython(allow_sealing, refuse_every_update),
        GuardTruncate("supportability_auditevent"),
        GuardTruncate("supportability_labelsnapshot"),
        GuardTruncate("supportability_labelsnapshotrow"),
    ]
