/**
 * How the `tavio` command ends: its exit codes, and how a failure is told to the person or script
 * that ran it.
 */

/** Exit codes; `runs start --wait` and `runs wait` end by the run's outcome. */
export const EXIT = {
  ok: 0,
  /** The API answered a problem document, or could not be reached. */
  problem: 1,
  /** The command line is wrong: an unknown command or option, a missing argument, a secret on argv. */
  usage: 2,
  /** The run failed. */
  runFailed: 3,
  /** The run was canceled, terminated or timed out. */
  runStopped: 4,
  /** `--timeout` passed while the run was still running. */
  stillRunning: 5,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A command line that cannot be carried out as given: exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** An RFC 9457 problem document as the API answers it. */
export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail?: string;
}

/** The problem an API error carries, whichever client raised it. */
export function problemOf(error: unknown): ProblemDocument | undefined {
  if (typeof error !== 'object' || error === null || !('problem' in error)) return undefined;
  const problem = (error as { problem: unknown }).problem;
  if (typeof problem !== 'object' || problem === null) return undefined;
  const { type, title, status } = problem as Partial<ProblemDocument>;
  if (typeof type !== 'string' || typeof title !== 'string' || typeof status !== 'number') return undefined;
  return problem as ProblemDocument;
}

/** `error: <title>: <detail> (<type>)`, the way every problem is shown. */
export function problemLine(problem: ProblemDocument): string {
  const detail = problem.detail ? `: ${problem.detail}` : '';
  return `error: ${problem.title}${detail} (${problem.type})`;
}

/** A network failure of fetch: its cause's code (ECONNREFUSED, ENOTFOUND, ...) when it has one. */
function networkCause(error: unknown): string | undefined {
  if (!(error instanceof TypeError) || error.message !== 'fetch failed') return undefined;
  const cause = error.cause as { code?: string; message?: string } | undefined;
  return cause?.code ?? cause?.message ?? 'network error';
}

/** What a failed command prints on stderr, and its exit code. */
export function describeFailure(error: unknown, apiUrl: string): { line: string; code: ExitCode } {
  if (error instanceof UsageError) return { line: `error: ${error.message}`, code: EXIT.usage };
  const problem = problemOf(error);
  if (problem) return { line: problemLine(problem), code: EXIT.problem };
  const cause = networkCause(error);
  if (cause)
    return { line: `error: cannot reach the control API at ${apiUrl}: ${cause}`, code: EXIT.problem };
  return { line: `error: ${error instanceof Error ? error.message : String(error)}`, code: EXIT.problem };
}
