import type { ControlApiConfig } from '../common/config.js';
import type { Database } from '../db/client.js';
import type { BacklogWatch } from './backlog-watch.js';
import type { AuthThrottle } from './limits/auth-throttle.js';
import type { Counters } from './limits/counters.js';
import type { AccountAccess } from './provisioning/account-access.js';
import type { PayloadKeys } from './payload-keys.js';
import type { SigningKeys } from './temporal-auth/signing-keys.js';
import type { TemporalClients } from './temporal-clients.js';

/** What the routes work with; built once by the server (or a test) and passed in. */
export interface ApiDeps {
  db: Database;
  temporal: TemporalClients;
  accounts: AccountAccess;
  config: ControlApiConfig;
  signingKeys: SigningKeys;
  payloadKeys: PayloadKeys;
  /** Which environments have tasks waiting that no worker takes. */
  backlog: Pick<BacklogWatch, 'backlogged'>;
  /** Rate limit, sign-in and run-start counters shared by every control API process. */
  counters: Counters;
  authThrottle: AuthThrottle;
}
