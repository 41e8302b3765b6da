import type { Problem } from './types.js';

/** A request the control API refused: its problem document, and when to repeat it if it said. */
export class TavioApiError extends Error {
  constructor(
    readonly problem: Problem,
    /** From `Retry-After`, when the API says when to repeat the request (429). */
    readonly retryAfterSeconds?: number,
  ) {
    super(`${problem.status} ${problem.title}: ${problem.detail ?? problem.type}`);
  }
  get status(): number {
    return this.problem.status;
  }
}

function isProblem(body: unknown): body is Problem {
  const fields = body as Partial<Problem> | null;
  return (
    typeof fields === 'object' &&
    fields !== null &&
    typeof fields.type === 'string' &&
    typeof fields.title === 'string' &&
    typeof fields.status === 'number'
  );
}

/**
 * The error of a response that is not a success: its problem document, or (from something in
 * front of the API that answers otherwise) a problem naming only the status.
 */
export function apiErrorOf(body: unknown, response: Response): TavioApiError {
  const problem: Problem = isProblem(body)
    ? body
    : { type: 'about:blank', title: response.statusText || 'Error', status: response.status };
  const retryAfter = Number(response.headers.get('retry-after') ?? Number.NaN);
  return new TavioApiError(problem, Number.isFinite(retryAfter) ? retryAfter : undefined);
}
