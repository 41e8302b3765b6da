import { randomUUID } from 'node:crypto';

/**
 * What an environment row holds in `aws_account_id` while its account is being made: the account's
 * 12-digit id once it is ready for Tavio (its provisioner role in place), before that the AWS
 * Organizations request that creates it (`requested:car-...`), and before the request a unique
 * placeholder (`unrequested:<uuid>`), since the column is unique and never null.
 */
export type AccountRecord =
  | { state: 'ready'; accountId: string }
  | { state: 'requested'; requestId: string }
  | { state: 'unrequested' };

const ACCOUNT_ID = /^\d{12}$/;
const REQUESTED = 'requested:';
const UNREQUESTED = 'unrequested:';

/** Reads a stored value; anything that is none of the three forms is refused by name. */
export function readAccountRecord(value: string): AccountRecord {
  if (ACCOUNT_ID.test(value)) return { state: 'ready', accountId: value };
  if (value.startsWith(REQUESTED) && value.length > REQUESTED.length)
    return { state: 'requested', requestId: value.slice(REQUESTED.length) };
  if (value.startsWith(UNREQUESTED)) return { state: 'unrequested' };
  throw new Error(`aws_account_id holds neither an account id nor an account request: ${value}`);
}

export const requestedAccount = (requestId: string): string => `${REQUESTED}${requestId}`;

/** A fresh placeholder: an environment whose account the factory has not asked for yet. */
export const unrequestedAccount = (): string => `${UNREQUESTED}${randomUUID()}`;

/** The account id when the account is ready, else undefined. */
export function readyAccountId(value: string): string | undefined {
  return ACCOUNT_ID.test(value) ? value : undefined;
}
