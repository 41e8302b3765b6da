import type { RunLogRecord } from '../../common/run-log.js';
import { apiErrorOf } from './errors.js';
import type { LogGrant } from './types.js';

/**
 * A run's log is read from its region's data plane (the URL of a log grant), not from the control
 * API: its query and its NDJSON pages are outside the control API's document.
 */

export interface LogQuery {
  /** The least level: debug, info, warn or error. */
  level?: RunLogRecord['level'];
  events?: string[];
  since?: string;
  until?: string;
  limit?: number;
  cursor?: string;
}

export interface LogPage {
  records: RunLogRecord[];
  /** The next page's cursor when the limit cut this one. */
  nextCursor: string | null;
  /** Where to read again from when chunks not yet settled were skipped. */
  resumeCursor: string | null;
}

/** Reads one page of a run's log from the data-plane URL of a grant. */
export async function readLogPage(grant: LogGrant, query: LogQuery): Promise<LogPage> {
  const url = new URL(grant.url);
  if (query.level) url.searchParams.set('level', query.level);
  if (query.events?.length) url.searchParams.set('event', query.events.join(','));
  if (query.since) url.searchParams.set('since', query.since);
  if (query.until) url.searchParams.set('until', query.until);
  if (query.limit !== undefined) url.searchParams.set('limit', String(query.limit));
  if (query.cursor) url.searchParams.set('cursor', query.cursor);
  const response = await fetch(url, { headers: { authorization: `Bearer ${grant.token}` } });
  const text = await response.text();
  if (!response.ok) throw apiErrorOf(parsedOrText(text), response);
  const page: LogPage = { records: [], nextCursor: null, resumeCursor: null };
  for (const line of text.split('\n')) {
    if (!line) continue;
    const parsed = JSON.parse(line) as RunLogRecord | { nextCursor: string } | { resumeCursor: string };
    if ('nextCursor' in parsed) page.nextCursor = parsed.nextCursor;
    else if ('resumeCursor' in parsed) page.resumeCursor = parsed.resumeCursor;
    else page.records.push(parsed);
  }
  return page;
}

function parsedOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
