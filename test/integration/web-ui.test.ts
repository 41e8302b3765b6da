import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CHROMIUM } from '../../scripts/stack/browser.js';
import type { EnvScenario } from '../support/scenario.js';
import {
  completedRun,
  decodedText,
  newEnvironment,
  operatorClient,
  rawHistories,
} from '../support/scenario.js';

/** Signs in through the gateway's form, as a person would. */
async function signIn(page: Page, key: string, next = '/namespaces'): Promise<void> {
  await page.goto(new URL(`/login?next=${encodeURIComponent(next)}`, inject('webUiUrl')).href);
  await page.fill('#key', key);
  await Promise.all([
    page.waitForURL((url) => !url.pathname.startsWith('/login')),
    page.click('button[type=submit]'),
  ]);
}

/** The Web UI's own API, called from the page, with the page's cookies. */
async function uiApi(page: Page, method: 'GET' | 'POST', path: string) {
  const response =
    method === 'GET'
      ? await page.request.get(new URL(path, inject('webUiUrl')).href)
      : await page.request.post(new URL(path, inject('webUiUrl')).href, { data: {} });
  return {
    status: response.status(),
    body: response.ok() ? ((await response.json()) as Record<string, unknown>) : {},
  };
}

const namespacesIn = (body: Record<string, unknown>) =>
  ((body.namespaces as Array<{ namespaceInfo?: { name?: string } }> | undefined) ?? []).map(
    (n) => n.namespaceInfo?.name,
  );

describe('the Temporal Web UI, reachable only through Tavio', () => {
  let browser: Browser;
  let a: EnvScenario;
  let b: EnvScenario;
  let aWorkflow: string;
  let bWorkflow: string;

  beforeAll(async () => {
    [a, b] = await Promise.all([
      newEnvironment('us', { employees: 10 }),
      newEnvironment('eu', { employees: 10 }),
    ]);
    const [aRun, bRun] = await Promise.all([completedRun(a), completedRun(b)]);
    [aWorkflow, bWorkflow] = [aRun.workflowId, bRun.workflowId];
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await Promise.all([a.close(), b.close()]);
  });

  it('sends anonymous people to sign in, and refuses the UI API to them', async () => {
    const page = await browser.newPage();
    await page.goto(new URL(`/namespaces/${a.environment.namespace}/workflows`, inject('webUiUrl')).href);
    expect(new URL(page.url()).pathname).toBe('/login');
    expect(await page.textContent('h1')).toBe('Tavio');
    const api = await fetch(new URL('/api/v1/namespaces', inject('webUiUrl')));
    expect(api.status).toBe(401);
    expect(api.headers.get('content-type')).toMatch(/problem\+json/);
    await page.close();
  });

  it("shows organization A its own run, lists only A's namespaces, and refuses B's run opened by URL", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, a.adminKey, `/namespaces/${a.environment.namespace}/workflows/${aWorkflow}`);
    await expect.poll(() => page.getByText(aWorkflow).count(), { timeout: 30_000 }).toBeGreaterThan(0);

    const cookies = await context.cookies();
    expect(cookies.find((c) => c.name === 'tavio_ui_session')).toMatchObject({
      httpOnly: true,
      sameSite: 'Strict',
    });

    expect(namespacesIn((await uiApi(page, 'GET', '/api/v1/namespaces')).body)).toEqual([
      a.environment.namespace,
    ]);
    const own = await uiApi(
      page,
      'GET',
      `/api/v1/namespaces/${a.environment.namespace}/workflows/${aWorkflow}`,
    );
    expect(own.status).toBe(200);
    const foreign = await uiApi(
      page,
      'GET',
      `/api/v1/namespaces/${b.environment.namespace}/workflows/${bWorkflow}`,
    );
    expect(foreign.status).toBe(403);
    // The role is read: Temporal refuses what it does not allow, even on A's own run.
    const terminate = await uiApi(
      page,
      'POST',
      `/api/v1/namespaces/${a.environment.namespace}/workflows/${aWorkflow}/terminate`,
    );
    expect(terminate.status).toBe(403);

    await page.goto(
      new URL(`/namespaces/${b.environment.namespace}/workflows/${bWorkflow}`, inject('webUiUrl')).href,
    );
    await page.waitForLoadState('networkidle');
    expect(await page.getByText(bWorkflow).count()).toBe(0);
    await context.close();
  });

  it("keeps Temporal's database to ciphertext, and opens payloads at the codec endpoint for the session's namespaces only", async () => {
    const [raw] = await rawHistories(a.environment.namespace, aWorkflow);
    const payloads = (raw!.events ?? []).flatMap((event) => [
      ...(event.workflowExecutionStartedEventAttributes?.input?.payloads ?? []),
      ...(event.activityTaskCompletedEventAttributes?.result?.payloads ?? []),
      ...(event.workflowExecutionCompletedEventAttributes?.result?.payloads ?? []),
      ...Object.values(event.workflowExecutionStartedEventAttributes?.memo?.fields ?? {}),
    ]);
    expect(payloads.length).toBeGreaterThan(3);
    const stored = decodedText(raw);
    for (const clear of [a.sourceConnectionId, a.destinationConnectionId, 'recordsRead', 'json/plain'])
      expect(stored).not.toContain(clear);

    const asWire = (payload: (typeof payloads)[number]) => ({
      metadata: Object.fromEntries(
        Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
      ),
      data: Buffer.from(payload.data ?? []).toString('base64'),
    });
    const body = JSON.stringify({ payloads: payloads.map(asWire) });
    const decode = (namespace: string, cookie?: string) =>
      fetch(new URL('/codec/decode', inject('webUiUrl')), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-namespace': namespace,
          ...(cookie ? { cookie } : {}),
        },
        body,
      });

    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, a.adminKey);
    const cookie = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    const opened = await decode(a.environment.namespace, cookie);
    expect(opened.status).toBe(200);
    const text = JSON.stringify(
      ((await opened.json()) as { payloads: Array<{ data?: string }> }).payloads.map((p) =>
        Buffer.from(p.data ?? '', 'base64').toString('utf8'),
      ),
    );
    expect(text).toContain('recordsRead');
    expect(text).toContain(a.sourceConnectionId);

    const foreign = await decode(b.environment.namespace, cookie);
    expect(foreign.status).toBe(403);
    expect(foreign.headers.get('content-type')).toMatch(/problem\+json/);
    expect((await decode(a.environment.namespace)).status).toBe(401);
    await context.close();
  });

  it('lets the operator see every organization', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, inject('operatorKey'));
    // The list is paged and holds every organization's namespaces: each run is opened instead.
    for (const [s, workflow] of [
      [a, aWorkflow],
      [b, bWorkflow],
    ] as const) {
      const run = await uiApi(
        page,
        'GET',
        `/api/v1/namespaces/${s.environment.namespace}/workflows/${workflow}`,
      );
      expect(run.status).toBe(200);
    }
    // Unfiltered: more than one organization's namespaces, where A's session saw A's alone.
    expect(namespacesIn((await uiApi(page, 'GET', '/api/v1/namespaces')).body).length).toBeGreaterThan(1);
    await context.close();
  });

  it('refuses sign-in with a revoked key, and ends the session of a key revoked later', async () => {
    const issued = await a.admin.createEnvironmentKey(a.org, a.env);
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, issued.key);
    expect((await uiApi(page, 'GET', '/api/v1/namespaces')).status).toBe(200);
    await operatorClient().revokeApiKey(a.org, issued.id);
    expect((await uiApi(page, 'GET', '/api/v1/namespaces')).status).toBe(401);

    await page.goto(new URL('/login', inject('webUiUrl')).href);
    await page.fill('#key', issued.key);
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/login') && r.request().method() === 'POST'),
      page.click('button[type=submit]'),
    ]);
    expect(response.status()).toBe(401);
    expect(await page.textContent('[role=alert]')).toMatch(/revoked/);
    await context.close();
  });
});
