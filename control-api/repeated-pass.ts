/**
 * Runs `pass` over and over, `intervalMs` after the previous one settled, until stopped. A failed
 * pass is reported and the next one runs all the same.
 */
export function repeatPass(pass: () => Promise<void>, intervalMs: number, onError?: (error: Error) => void) {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let passing: Promise<void> = Promise.resolve();
  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      passing = pass()
        .catch((error: Error) => onError?.(error))
        .finally(schedule);
    }, intervalMs);
  }
  schedule();
  return {
    /** Resolves once no pass runs and none will. */
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      await passing;
    },
  };
}
