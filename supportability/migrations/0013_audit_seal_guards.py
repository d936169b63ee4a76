"""Only a sealer's link is accepted as a seal (PostgreSQL): an event is inserted unsealed
(a BEFORE INSERT trigger refuses seq, prev_hash or hash on a new row), and a seal must
continue the chain: at commit, a deferred constraint trigger checks that the sealed event's
prev_hash is the hash of the event at seq - 1 (or the genesis hash at seq 1). So whoever
can write rows (the application's role) cannot insert a sealed event, leave a gap, or fork
the chain; a seal with a wrong hash of its own is still possible for them, and the verifier
names it (EDITED)."""

from django.db import migrations

INSERT_GUARD = """
CREATE OR REPLACE FUNCTION supportability_auditevent_unsealed_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.seq IS NOT NULL OR NEW.prev_hash IS NOT NULL OR NEW.hash IS NOT NULL THEN
        RAISE EXCEPTION USING
            MESSAGE = 'audit events are written unsealed: the sealer links them',
            ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER supportability_auditevent_unsealed_insert
    BEFORE INSERT ON supportability_auditevent
    FOR EACH ROW EXECUTE FUNCTION supportability_auditevent_unsealed_insert();

CREATE OR REPLACE FUNCTION supportability_auditevent_seal_links() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.seq IS NULL AND NEW.seq IS NOT NULL AND NOT (
        (NEW.seq = 1 AND NEW.prev_hash = repeat('0', 64))
        OR EXISTS (SELECT 1 FROM supportability_auditevent p
                   WHERE p.seq = NEW.seq - 1 AND p.hash = NEW.prev_hash)
    ) THEN
        RAISE EXCEPTION USING
            MESSAGE = 'audit event ' || NEW.id || ' sealed at seq ' || NEW.seq
                      || ' does not follow the event at seq ' || (NEW.seq - 1),
            ERRCODE = 'restrict_violation';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER supportability_auditevent_seal_links
    AFTER UPDATE ON supportability_auditevent DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION supportability_auditevent_seal_links();
"""

DROP = """
DROP TRIGGER IF EXISTS supportability_auditevent_seal_links ON supportability_auditevent;
DROP FUNCTION IF EXISTS supportability_auditevent_seal_links();
DROP TRIGGER IF EXISTS supportability_auditevent_unsealed_insert ON supportability_auditevent;
DROP FUNCTION IF EXISTS supportability_auditevent_unsealed_insert();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(INSERT_GUARD, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("supportability", "0012_audit_sealing_trigger_columns")]

    operations = [migrations.RunPython(create, drop)]
