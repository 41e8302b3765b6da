-- The control API runs as tavio_app: it reads and writes the control tables, and may only add to and
-- read the audit log. Migrations run as the owner of the schema; tavio_app owns nothing, so it can
-- neither alter a table nor disable a trigger. Where tavio_app does not exist yet it is created
-- without LOGIN (the local stack creates it first, with LOGIN and a password); creating it needs
-- CREATEROLE, which the owner should not have: an administrator then creates it.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tavio_app') THEN
    CREATE ROLE tavio_app NOLOGIN;
  END IF;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE EXCEPTION 'role tavio_app does not exist, and % may not create it', current_user
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'Create it as an administrator (CREATE ROLE tavio_app LOGIN PASSWORD ...), then run the migrations again.';
END
$$;
--> statement-breakpoint
GRANT USAGE ON SCHEMA public TO tavio_app;
--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO tavio_app;
--> statement-breakpoint
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO tavio_app;
--> statement-breakpoint
-- The audit log is append-only for the application by privilege, and for everyone by its triggers.
REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON audit_log FROM tavio_app;
--> statement-breakpoint
-- Tables and sequences that later migrations create (as the owner) are granted the same way.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO tavio_app;
--> statement-breakpoint
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO tavio_app;
