/** The longest wait a source may impose through Retry-After; beyond it the activity retries anyway. */
export const RETRY_AFTER_CAP_SECONDS = 60;

/** The three HTTP-date forms recipients must accept (RFC 9110, section 5.6.7). */
const IMF_FIXDATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;
const RFC_850 = /^[A-Z][a-z]{5,8}, \d{2}-[A-Z][a-z]{2}-\d{2} \d{2}:\d{2}:\d{2} GMT$/;
const ASCTIME = /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/;

function dateMs(value: string): number | undefined {
  // asctime carries no zone and means GMT; Date.parse would read it as local time.
  const text = ASCTIME.test(value)
    ? `${value} GMT`
    : IMF_FIXDATE.test(value) || RFC_850.test(value)
      ? value
      : undefined;
  const ms = text === undefined ? Number.NaN : Date.parse(text);
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * The delay a Retry-After value asks for, in whole seconds, at most `capSeconds`; `undefined` for
 * no usable delay (absent, garbage, zero, or a date already past), which leaves the wait to the
 * retry policy. A source cannot park a run for a day with a huge value.
 */
export function retryAfterSeconds(
  value: string | null,
  nowMs: number = Date.now(),
  capSeconds: number = RETRY_AFTER_CAP_SECONDS,
): number | undefined {
  const text = value?.trim() ?? '';
  let seconds: number | undefined;
  if (/^\d+$/.test(text)) seconds = Number(text);
  else {
    const at = dateMs(text);
    if (at !== undefined) seconds = Math.ceil((at - nowMs) / 1000);
  }
  if (seconds === undefined || !(seconds > 0)) return undefined;
  return Math.min(seconds, capSeconds);
}
