/**
 * Iterates `source` one item ahead of its consumer: the next item is on its way while the current
 * one is used (a part read while the one before is sealed and uploaded, say). Memory holds two.
 */
export async function* readAhead<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  let next = iterator.next();
  try {
    for (;;) {
      const current = await next;
      if (current.done) return;
      next = iterator.next();
      // Awaited in the next turn, or below when the consumer stops first.
      next.catch(() => undefined);
      yield current.value;
    }
  } finally {
    const last = await next.catch(() => ({ done: true }));
    if (!last.done) await iterator.return?.();
  }
}
