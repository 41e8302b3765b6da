-- Environments created so far are named `<org>-<env>`, which two organizations can both claim
-- (`x` + `ns-dev`, `x-ns` + `dev`). New ones carry their id in their names. The existing ones keep
-- their namespaces (Temporal cannot rename one) and are marked, so that their workers check them by
-- the old rule.
ALTER TABLE "environments" ADD COLUMN "legacy_namespace" boolean DEFAULT true NOT NULL;
--> statement-breakpoint
ALTER TABLE "environments" ALTER COLUMN "legacy_namespace" SET DEFAULT false;
