/**
 * Runs an AWS call and answers null when it fails with one of the named errors: for steps that
 * are done when a resource already exists, or already is gone.
 */
export async function tolerating<T>(
  work: () => Promise<T>,
  errorNames: readonly string[],
): Promise<T | null> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof Error && errorNames.includes(error.name)) return null;
    throw error;
  }
}
