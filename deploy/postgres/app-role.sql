-- The application's database role (docs/operations.md, "The database's roles").
--
-- The tables belong to the owner role, which runs `manage.py migrate`; the application
-- connects as supportability_app, which reads and writes rows and owns nothing. So it
-- cannot drop, alter or disable the triggers that keep the audit trail append-only and
-- refuse TRUNCATE of the evidence, and it has no TRUNCATE privilege to begin with.
--
-- Run as the owner role after every migrate (new tables need their grants):
--   psql "$OWNER_DATABASE_URL" -v ON_ERROR_STOP=1 -f deploy/postgres/app-role.sql

GRANT USAGE ON SCHEMA public TO supportability_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO supportability_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO supportability_app;
-- The audit trail is appended to and sealed, never deleted from (the row trigger refuses
-- it as well; the sealer's UPDATE sets an unsealed event's seq and hashes, once).
REVOKE DELETE ON supportability_auditevent FROM supportability_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO supportability_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO supportability_app;
