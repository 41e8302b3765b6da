import type { Writable } from 'node:stream';

/** What the command writes to: its streams, and whether it writes JSON. */
export interface Output {
  stdout: Writable & { isTTY?: boolean; columns?: number };
  stderr: Writable;
  json: boolean;
}

/** A value as one JSON document (pretty) or one JSON line. */
export function printJson(out: Output, value: unknown, line = false): void {
  out.stdout.write(`${JSON.stringify(value, null, line ? undefined : 2)}\n`);
}

const cell = (value: unknown): string =>
  value === null || value === undefined
    ? '-'
    : typeof value === 'object'
      ? JSON.stringify(value)
      : String(value);

/** Rows as an aligned table with a header; `columns` maps a heading to each row's field. */
export function printTable<T>(
  out: Output,
  rows: readonly T[],
  columns: Record<string, (row: T) => unknown>,
): void {
  const headings = Object.keys(columns);
  const body = rows.map((row) => Object.values(columns).map((get) => cell(get(row))));
  const widths = headings.map((heading, i) =>
    Math.max(heading.length, ...body.map((cells) => cells[i]!.length)),
  );
  const format = (cells: string[]) =>
    cells
      .map((text, i) => (i === cells.length - 1 ? text : text.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  out.stdout.write(`${[format(headings.map((h) => h.toUpperCase())), ...body.map(format)].join('\n')}\n`);
}

/** A record as `label  value` lines. */
export function printFields(out: Output, fields: Record<string, unknown>): void {
  const width = Math.max(...Object.keys(fields).map((label) => label.length));
  for (const [label, value] of Object.entries(fields))
    out.stdout.write(`${label.padEnd(width)}  ${cell(value)}\n`);
}

/** The value as JSON with `--json`, as `human` otherwise. */
export function show<T>(out: Output, value: T, human: (value: T) => void): void {
  if (out.json) printJson(out, value);
  else human(value);
}

/** A duration as m:ss, or h:mm:ss from an hour. */
export function clock(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  const s = String(seconds % 60).padStart(2, '0');
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}:${s}`;
  return `${Math.floor(minutes / 60)}:${String(minutes % 60).padStart(2, '0')}:${s}`;
}
