"""The sealing trigger compares the event's columns one by one instead of the whole row as
JSON: the same rule (an unsealed event may be given seq, prev_hash and hash, once, and
nothing else may change), at about half the cost per sealed event (bench/RESULTS.md, "Audit
sealing"). A column added to the audit table must be added to CONTENT here, in a new
migration: tests/supportability/test_audit_chain.py checks that every column is."""

from django.db import migrations

TRIGGER = "supportability_auditevent_append_only"

CONTENT = (
    "id",
    "actor_id",
    "actor_label",
    "verb",
    "object_type",
    "object_id",
    "merchant_id",
    "before",
    "after",
    "created_at",
)


def _function(check: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION {TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The sealer links an unsealed event into the chain: seq, prev_hash and hash, once.
    IF TG_OP = 'UPDATE' AND OLD.seq IS NULL AND NEW.seq IS NOT NULL AND {check} THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION USING
        MESSAGE = 'audit events are append-only: ' || TG_OP
                  || ' of supportability_auditevent ' || OLD.id || ' refused',
        HINT = 'Record a new audit event instead; manage.py verify_audit checks the chain.',
        ERRCODE = 'restrict_violation';
END
$$;
"""


COLUMNS = _function(
    "({}) IS NOT DISTINCT FROM ({})".format(
        ", ".join(f"NEW.{c}" for c in CONTENT), ", ".join(f"OLD.{c}" for c in CONTENT)
    )
)
WHOLE_ROW = _function(
    "to_jsonb(NEW) - 'seq' - 'prev_hash' - 'hash' = to_jsonb(OLD) - 'seq' - 'prev_hash' - 'hash'"
)


def by_columns(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(COLUMNS, params=None)


def by_whole_row(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(WHOLE_ROW, params=None)


class Migration(migrations.Migration):
    dependencies = [("supportability", "0011_audit_sealing")]

    operations = [migrations.RunPython(by_columns, by_whole_row)]
