CREATE TYPE "public"."api_key_kind" AS ENUM('operator', 'organization', 'environment', 'host');--> statement-breakpoint
CREATE TYPE "public"."environment_status" AS ENUM('provisioning', 'active', 'failed', 'retired');--> statement-breakpoint
CREATE TYPE "public"."region" AS ENUM('us', 'ca', 'eu');--> statement-breakpoint
CREATE TYPE "public"."run_status" AS ENUM('running', 'completed', 'failed', 'canceled', 'terminated', 'timed_out');--> statement-breakpoint
CREATE TABLE "api_keys" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"kind" "api_key_kind" NOT NULL,
	"organization_id" uuid,
	"environment_id" uuid,
	"region" "region",
	"prefix" text NOT NULL,
	"secret_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_used_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "api_keys_prefix_unique" UNIQUE("prefix")
);
--> statement-breakpoint
CREATE TABLE "audit_log" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"actor_key_id" uuid,
	"action" text NOT NULL,
	"organization_id" uuid,
	"environment_id" uuid,
	"target" text,
	"details" jsonb
);
--> statement-breakpoint
CREATE TABLE "connections" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"environment_id" uuid NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"base_url" text NOT NULL,
	"credentials_object_key" text NOT NULL,
	"credentials_version" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "environments" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"organization_id" uuid NOT NULL,
	"slug" text NOT NULL,
	"region" "region" NOT NULL,
	"namespace" text NOT NULL,
	"aws_account_id" text NOT NULL,
	"aws_region" text NOT NULL,
	"bucket" text NOT NULL,
	"key_arn" text,
	"dataplane_role_arn" text,
	"status" "environment_status" DEFAULT 'provisioning' NOT NULL,
	"status_reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "environments_namespace_unique" UNIQUE("namespace"),
	CONSTRAINT "environments_aws_account_id_unique" UNIQUE("aws_account_id"),
	CONSTRAINT "environments_bucket_unique" UNIQUE("bucket")
);
--> statement-breakpoint
CREATE TABLE "organizations" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"slug" text NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "organizations_slug_unique" UNIQUE("slug")
);
--> statement-breakpoint
CREATE TABLE "runs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"environment_id" uuid NOT NULL,
	"integration" text NOT NULL,
	"workflow_id" text NOT NULL,
	"temporal_run_id" text,
	"idempotency_key" text NOT NULL,
	"request_hash" text NOT NULL,
	"status" "run_status" DEFAULT 'running' NOT NULL,
	"summary" jsonb,
	"failure" text,
	"created_by_key_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"closed_at" timestamp with time zone,
	CONSTRAINT "runs_workflow_id_unique" UNIQUE("workflow_id")
);
--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_organization_id_organizations_id_fk" FOREIGN KEY ("organization_id") REFERENCES "public"."organizations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_environment_id_environments_id_fk" FOREIGN KEY ("environment_id") REFERENCES "public"."environments"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "connections" ADD CONSTRAINT "connections_environment_id_environments_id_fk" FOREIGN KEY ("environment_id") REFERENCES "public"."environments"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "environments" ADD CONSTRAINT "environments_organization_id_organizations_id_fk" FOREIGN KEY ("organization_id") REFERENCES "public"."organizations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "runs" ADD CONSTRAINT "runs_environment_id_environments_id_fk" FOREIGN KEY ("environment_id") REFERENCES "public"."environments"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "runs" ADD CONSTRAINT "runs_created_by_key_id_api_keys_id_fk" FOREIGN KEY ("created_by_key_id") REFERENCES "public"."api_keys"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "api_keys_org" ON "api_keys" USING btree ("organization_id");--> statement-breakpoint
CREATE INDEX "audit_log_org" ON "audit_log" USING btree ("organization_id","at");--> statement-breakpoint
CREATE UNIQUE INDEX "connections_env_name" ON "connections" USING btree ("environment_id","name");--> statement-breakpoint
CREATE UNIQUE INDEX "environments_org_slug" ON "environments" USING btree ("organization_id","slug");--> statement-breakpoint
CREATE INDEX "environments_region" ON "environments" USING btree ("region");--> statement-breakpoint
CREATE UNIQUE INDEX "runs_env_idempotency" ON "runs" USING btree ("environment_id","idempotency_key");--> statement-breakpoint
CREATE INDEX "runs_env_created" ON "runs" USING btree ("environment_id","created_at");