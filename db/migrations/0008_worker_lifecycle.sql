ALTER TABLE "environments" ADD COLUMN "worker_released_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "environments" ADD COLUMN "worker_release" jsonb;--> statement-breakpoint
ALTER TABLE "environments" ADD COLUMN "worker_problem" text;