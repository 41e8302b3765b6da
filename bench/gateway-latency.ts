import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, ProxyAgent, request } from 'undici';
import type { Dispatcher } from 'undici';
import { proxyAuthorization } from '../activities/http.js';
import { FIXTURE_HOST } from '../fixtures/serve.js';
import { createGatewayCredentials } from '../workers/gateway-credentials.js';
import { benchPlatform, percentile } from './support.js';

/**
 * What the region gateway adds to each request. Method: a customer system of one environment
 * (a loopback HTTP server answering 2 KiB) is asked REQUESTS times directly and REQUESTS times
 * through a gateway with the stack's own configuration, authenticated as that environment, the
 * two alternating so that both see the same machine. Both reuse their connections, as a worker
 * does. The gateway's decision (a control API call) is cached for 5 s, so a few requests pay
 * for it; the table shows p50 and p95 of each and the difference. Prints figures; asserts
 * nothing. Usage: tsx bench/gateway-latency.ts [requests, default 2000].
 */
const REQUESTS = Number(process.argv[2] ?? 2000);
const WARMUP = 100;
const say = (line: string) => process.stderr.write(`${line}\n`);

async function timed(dispatcher: Dispatcher, url: string): Promise<number> {
  const started = process.hrtime.bigint();
  const answer = await request(url, { dispatcher });
  await answer.body.arrayBuffer();
  if (answer.statusCode !== 200) throw new Error(`${url} answered ${answer.statusCode}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

const body = randomBytes(1024).toString('hex');
const server = createServer((_req, res) => res.end(body));
await new Promise<void>((resolve) => server.listen(0, FIXTURE_HOST, resolve));
const url = `http://${FIXTURE_HOST}:${(server.address() as AddressInfo).port}/employees`;

const bench = await benchPlatform({ regions: [], employees: 1 });
const { org, client } = bench;
const gateway = await bench.gateway();
try {
  const environment = await client.createEnvironment(org, 'bench', 'us');
  await client.createConnection(org, 'bench', {
    name: 'echo',
    kind: 'upsert-rest',
    baseUrl: new URL(url).origin,
    credentials: { token: randomBytes(16).toString('hex') },
  });
  const credentials = await createGatewayCredentials(gateway.files.passwd).issue(environment.id);
  const direct = new Agent();
  const viaGateway = new ProxyAgent({
    uri: gateway.url,
    proxyTunnel: false,
    token: proxyAuthorization(credentials),
  });
  say(`warming up, then ${REQUESTS} requests each way, alternating...`);
  for (let i = 0; i < WARMUP; i++) {
    await timed(direct, url);
    await timed(viaGateway, url);
  }
  const times = { direct: [] as number[], gateway: [] as number[] };
  for (let i = 0; i < REQUESTS; i++) {
    times.direct.push(await timed(direct, url));
    times.gateway.push(await timed(viaGateway, url));
    if ((i + 1) % 500 === 0) say(`  ${i + 1} / ${REQUESTS}`);
  }
  const figures = Object.fromEntries(
    Object.entries(times).map(([path, list]) => {
      const sorted = [...list].sort((a, b) => a - b);
      return [path, { p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95) }];
    }),
  ) as Record<'direct' | 'gateway', { p50: number; p95: number }>;
  const added = figures.gateway.p50 - figures.direct.p50;
  console.log('path        p50 ms   p95 ms');
  console.log(
    `direct      ${figures.direct.p50.toFixed(3).padStart(6)}   ${figures.direct.p95.toFixed(3).padStart(6)}`,
  );
  console.log(
    `gateway     ${figures.gateway.p50.toFixed(3).padStart(6)}   ${figures.gateway.p95.toFixed(3).padStart(6)}`,
  );
  console.log(
    `added p50   ${added.toFixed(3).padStart(6)}   (gateway / direct p50: ${(figures.gateway.p50 / figures.direct.p50).toFixed(2)}x)`,
  );
  console.log(
    JSON.stringify({ bench: 'gateway-latency', requests: REQUESTS, ...figures, addedP50Ms: added }),
  );
  await direct.close();
  await viaGateway.close();
  await client.retireEnvironment(org, 'bench');
} finally {
  gateway.stop();
  server.close();
  await bench.close();
}
