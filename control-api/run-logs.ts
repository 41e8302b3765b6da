import type { environments, organizations, runs } from '../db/schema.js';
import { logDay, RUN_LOG_AUDIENCE } from '../common/run-log.js';
import type { ApiDeps } from './deps.js';

/** A log token lives five minutes at most (less when Temporal tokens live less). */
const LOG_TOKEN_MS = 5 * 60_000;

/**
 * A token for reading one run's log from its region's data plane, and where to read it. The token
 * names the run, its environment and region, and the days its log may be filed under; it is signed
 * with the keys Temporal trusts, but holds no Temporal permission.
 */
export async function issueLogToken(
  deps: Pick<ApiDeps, 'signingKeys' | 'config'>,
  grant: {
    org: typeof organizations.$inferSelect;
    env: typeof environments.$inferSelect;
    run: typeof runs.$inferSelect;
    keyId: string;
  },
) {
  const { org, env, run } = grant;
  const ttlMs = Math.min(LOG_TOKEN_MS, deps.config.temporalTokenTtlSeconds * 1000);
  // A running run still writes: its log may be filed under days up to the token's expiry.
  const lastDay = run.closedAt ?? new Date(Date.now() + ttlMs);
  const signed = await deps.signingKeys.sign(`key:${grant.keyId}`, [], ttlMs, {
    audience: RUN_LOG_AUDIENCE,
    claims: {
      tavio: {
        organization: org.slug,
        environment: env.slug,
        environmentId: env.id,
        region: env.region,
        run: run.id,
        workflowId: run.workflowId,
        from: logDay(run.createdAt.getTime()),
        to: logDay(lastDay.getTime()),
      },
    },
  });
  const base = deps.config.regions[env.region].dataplaneUrl;
  const path = `/v1/organizations/${org.slug}/environments/${env.slug}/runs/${run.id}/logs`;
  return {
    url: new URL(path, base).toString(),
    token: signed.token,
    expiresAt: signed.expiresAt.toISOString(),
  };
}
