/**
 * Upstream tokens (a listing's cursor, its `as_of`, a saved high-water mark) enter histories,
 * activity results and later requests' URLs: only short, printable-ASCII ones are accepted.
 * Cursors are opaque tokens of a few dozen characters; a longer one is a page of data in disguise.
 */
export const MAX_TOKEN_LENGTH = 512;

/** One or more printable ASCII characters (space to tilde). */
export const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;

/** What keeps an upstream token out of a history, in words; undefined when nothing does. */
export function tokenProblem(token: string): string | undefined {
  return token.length > MAX_TOKEN_LENGTH
    ? `of ${token.length} characters, over the limit of ${MAX_TOKEN_LENGTH}`
    : !PRINTABLE_ASCII.test(token)
      ? 'that is empty or not printable ASCII'
      : undefined;
}
