import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTokenWatch } from '../../workers/token-watch.js';

const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();

describe("an environment worker's Temporal token", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('reports, before expiry, a token that was never renewed', () => {
    const expired = vi.fn();
    const watch = createTokenWatch(expired);
    const metadata = watch.renew({ token: 'first', expiresAt: inMs(60_000) });
    expect(metadata).toEqual({ authorization: 'Bearer first' });
    vi.advanceTimersByTime(54_000);
    expect(expired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1_000);
    expect(expired).toHaveBeenCalledWith(expect.stringMatching(/expires at .* and the host sent no new one/));
  });

  it('keeps quiet while renewals arrive, and puts each on the connection', () => {
    const expired = vi.fn();
    const setMetadata = vi.fn(async () => undefined);
    const watch = createTokenWatch(expired);
    watch.renew({ token: 'first', expiresAt: inMs(60_000) });
    watch.attach({ setMetadata } as never);
    vi.advanceTimersByTime(30_000);
    watch.renew({ token: 'second', expiresAt: inMs(60_000) });
    vi.advanceTimersByTime(50_000);
    expect(expired).not.toHaveBeenCalled();
    expect(setMetadata).toHaveBeenCalledWith({ authorization: 'Bearer second' });
    watch.stop();
    vi.advanceTimersByTime(60_000);
    expect(expired).not.toHaveBeenCalled();
  });
});
