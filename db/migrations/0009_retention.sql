CREATE TYPE "public"."deletion_kind" AS ENUM('sweep', 'retirement');--> statement-breakpoint
CREATE TYPE "public"."log_detail" AS ENUM('metadata', 'records');--> statement-breakpoint
CREATE TABLE "deletion_receipts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"environment_id" uuid NOT NULL,
	"kind" "deletion_kind" NOT NULL,
	"source" text NOT NULL,
	"policy_version" integer,
	"started_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone NOT NULL,
	"objects_deleted" integer NOT NULL,
	"bytes_deleted" bigint NOT NULL,
	"prefixes" jsonb NOT NULL,
	"complete" boolean NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "deletion_receipts_source_unique" UNIQUE("source")
);
--> statement-breakpoint
CREATE TABLE "retention_policies" (
	"environment_id" uuid NOT NULL,
	"version" integer NOT NULL,
	"tmp_buffer_hours" integer NOT NULL,
	"transferred_file_days" integer NOT NULL,
	"quarantine_days" integer NOT NULL,
	"run_log_days" integer NOT NULL,
	"history_days" integer NOT NULL,
	"run_log_detail" "log_detail" NOT NULL,
	"created_by_key_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "retention_policies_environment_id_version_pk" PRIMARY KEY("environment_id","version")
);
--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "retention_policy_version" integer;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "log_detail" text;--> statement-breakpoint
ALTER TABLE "deletion_receipts" ADD CONSTRAINT "deletion_receipts_environment_id_environments_id_fk" FOREIGN KEY ("environment_id") REFERENCES "public"."environments"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "retention_policies" ADD CONSTRAINT "retention_policies_environment_id_environments_id_fk" FOREIGN KEY ("environment_id") REFERENCES "public"."environments"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "retention_policies" ADD CONSTRAINT "retention_policies_created_by_key_id_api_keys_id_fk" FOREIGN KEY ("created_by_key_id") REFERENCES "public"."api_keys"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "deletion_receipts_env" ON "deletion_receipts" USING btree ("environment_id","finished_at");--> statement-breakpoint
-- Deletion receipts are proof of deletion: rows can be added, never changed or removed.
CREATE FUNCTION append_only_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER deletion_receipts_append_only BEFORE UPDATE OR DELETE ON deletion_receipts
  FOR EACH ROW EXECUTE FUNCTION append_only_refuse_change();
--> statement-breakpoint
CREATE TRIGGER deletion_receipts_no_truncate BEFORE TRUNCATE ON deletion_receipts
  FOR EACH STATEMENT EXECUTE FUNCTION append_only_refuse_change();
--> statement-breakpoint
REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON deletion_receipts FROM tavio_app;
--> statement-breakpoint
-- A policy version is never changed: a change inserts the next version.
CREATE TRIGGER retention_policies_append_only BEFORE UPDATE OR DELETE ON retention_policies
  FOR EACH ROW EXECUTE FUNCTION append_only_refuse_change();
--> statement-breakpoint
REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON retention_policies FROM tavio_app;
