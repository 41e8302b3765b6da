import { readFileSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { z } from 'zod';

/**
 * The region gateway's external ACL helper (Squid's `external_acl_type`, concurrent protocol): for
 * each `<channel> <user> <host> <port>` line, asks the control API whether that environment may
 * reach that destination, and answers `<channel> OK` or `<channel> ERR message=...`. Anything that
 * prevents an answer (no control file, the control API down, a malformed line) is a refusal.
 *
 * Usage: egress-acl.ts <control file> <address|name>. The control file (JSON: controlApiUrl,
 * region, key) is re-read when it changes, so the platform can hand the gateway a new key.
 */

const controlSchema = z.object({ controlApiUrl: z.url(), region: z.string(), key: z.string().min(1) });
const decisionSchema = z.object({ allow: z.boolean(), reason: z.string() });
const ASK_TIMEOUT_MS = 5_000;

const [controlFile, kind] = process.argv.slice(2);
if (!controlFile || (kind !== 'address' && kind !== 'name')) {
  console.error('usage: egress-acl.ts <control file> <address|name>');
  process.exit(2);
}

let control: { mtimeMs: number; value: z.infer<typeof controlSchema> } | undefined;
function currentControl(): z.infer<typeof controlSchema> {
  const mtimeMs = statSync(controlFile!).mtimeMs;
  if (control?.mtimeMs !== mtimeMs)
    control = { mtimeMs, value: controlSchema.parse(JSON.parse(readFileSync(controlFile!, 'utf8'))) };
  return control.value;
}

const decode = (field: string): string => {
  try {
    return decodeURIComponent(field);
  } catch {
    return field;
  }
};

async function answer(fields: string[]): Promise<string> {
  const [user, host, port] = fields.map(decode);
  if (!user || user === '-' || !host || !port) return 'ERR message=incomplete%20question';
  try {
    const { controlApiUrl, region, key } = currentControl();
    const query = new URLSearchParams({ user, host, port, kind: kind! });
    const response = await fetch(`${controlApiUrl}/v1/regions/${region}/egress-decisions?${query}`, {
      headers: { authorization: `Bearer ${key}` },
      signal: AbortSignal.timeout(ASK_TIMEOUT_MS),
    });
    if (!response.ok) return `ERR message=${encodeURIComponent(`control API answered ${response.status}`)}`;
    const decision = decisionSchema.parse(await response.json());
    return `${decision.allow ? 'OK' : 'ERR'} message=${encodeURIComponent(decision.reason)}`;
  } catch (error) {
    return `ERR message=${encodeURIComponent(`no decision: ${(error as Error).message}`)}`;
  }
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const [channel, ...fields] = line.trim().split(/\s+/);
  if (!channel) return;
  void answer(fields).then((reply) => process.stdout.write(`${channel} ${reply}\n`));
});
