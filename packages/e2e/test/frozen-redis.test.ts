// A Redis that stops answering (SIGSTOP: connections stay open, nothing comes back) is
// reported within 2 s by the API's /readyz and the worker's /healthz, requests that need
// it answer 503 within a few seconds instead of hanging, and nothing accepted is lost:
// every job answered 202 before, during or after completes, and a request answered 503
// retried with its Idempotency-Key makes exactly one job.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Emulator, startEmulator } from '@renderq/segmind-emulator';
import {
  freePort,
  type NodeService,
  type RedisHandle,
  spawnNodeService,
  startRedis,
  uniqueName,
} from '@renderq/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const API_KEY = 'frozen-key-0123456789';
const apiMain = fileURLToPath(new URL('../../api/dist/main.js', import.meta.url));
const workerMain = fileURLToPath(new URL('../../worker/dist/main.js', import.meta.url));

let redis: RedisHandle;
let emulator: Emulator;
let api: NodeService;
let worker: NodeService;
let apiUrl: string;
let workerUrl: string;
let dir: string;

beforeAll(async () => {
  [redis, emulator] = await Promise.all([
    startRedis({ own: true }),
    startEmulator({ latencyScale: 0.02, latencyJitter: 0, gpusPerModel: 100 }),
  ]);
  dir = await mkdtemp(path.join(tmpdir(), 'renderq-frozen-'));
  const [apiPort, workerPort] = [await freePort(), await freePort()];
  const env = {
    REDIS_URL: redis.url,
    RENDERQ_PREFIX: uniqueName('frozen'),
    RENDERQ_API_KEYS: `frozen:${API_KEY}`,
    STORAGE_URL: `file://${dir}`,
    SEGMIND_BASE_URL: emulator.url,
    SEGMIND_API_KEY: emulator.apiKey,
    LOG_LEVEL: 'warn',
    REDIS_COMMAND_TIMEOUT_MS: '2000',
    // A job whose queueing the freeze cut off is the reconciler's to find: soon, here, not after 46 s.
    WORKER_RECONCILE_AFTER_MS: '15000',
  };
  apiUrl = `http://127.0.0.1:${apiPort}`;
  workerUrl = `http://127.0.0.1:${workerPort}`;
  [api, worker] = await Promise.all([
    spawnNodeService({ main: apiMain, env: { ...env, PORT: String(apiPort) }, readyUrl: `${apiUrl}/readyz` }),
    spawnNodeService({
      main: workerMain,
      env: { ...env, WORKER_METRICS_PORT: String(workerPort), WORKER_LOCK_DURATION_MS: '3000' },
      readyUrl: `${workerUrl}/healthz`,
    }),
  ]);
}, 60_000);

afterAll(async () => {
  await redis?.thaw();
  await Promise.all([api?.stop(), worker?.stop()]);
  await Promise.all([emulator?.close(), redis?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

interface Answer {
  readonly status: number;
  readonly ms: number;
  readonly body: Record<string, unknown>;
}

async function call(
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const started = performance.now();
  const response = await fetch(url, {
    method,
    headers: {
      authorization: `Bearer ${API_KEY}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  return { status: response.status, ms: performance.now() - started, body: text ? JSON.parse(text) : {} };
}

const job = (marker: string) => ({ model: 'segmind-vega-rt-v1', input: { prompt: `marker:${marker} a frozen lake` } });

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('a Redis that stops answering', () => {
  it('is reported and refused within seconds, and loses nothing accepted', async () => {
    const accepted: string[] = [];
    for (let i = 0; i < 10; i++) {
      const before = await call('POST', `${apiUrl}/v1/jobs`, job(`before-${i}`));
      expect(before.status).toBe(202);
      accepted.push(before.body.id as string);
    }

    await redis.freeze();
    // The probes give up on Redis after 1.5 s; the bound leaves a loaded machine its slack (a probe
    // that waited for the connection's own timeouts would take far longer).
    const [ready, health] = await Promise.all([call('GET', `${apiUrl}/readyz`), call('GET', `${workerUrl}/healthz`)]);
    expect(ready.status).toBe(503);
    expect(String(ready.body.reason)).toMatch(/Redis/);
    expect(ready.ms).toBeLessThan(5_000);
    expect(health.status).toBe(503);
    expect(String(health.body.reason)).toMatch(/Redis/);
    expect(health.ms).toBeLessThan(5_000);

    // Requests that need Redis give up after its 5 s command timeout, all at once, with problem+json (the
    // bound leaves a loaded machine its slack).
    const during = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        call('POST', `${apiUrl}/v1/jobs`, job(`during-${i}`), { 'idempotency-key': `during-${i}` }),
      ),
    );
    const read = await call('GET', `${apiUrl}/v1/jobs/${accepted[0]}`);
    for (const answer of [...during, read]) {
      expect(answer.status).toBe(503);
      expect(answer.ms).toBeLessThan(10_000);
      expect(String(answer.body.detail)).toMatch(/Redis/);
    }
    console.warn(
      `frozen Redis: /readyz ${Math.round(ready.ms)} ms, worker /healthz ${Math.round(health.ms)} ms, ` +
        `POST /v1/jobs ${during.map((a) => Math.round(a.ms)).join('/')} ms, GET ${Math.round(read.ms)} ms`,
    );

    await redis.thaw();
    await until(async () => (await call('GET', `${apiUrl}/readyz`)).status === 200, 'the API ready again', 15_000);
    await until(
      async () => (await call('GET', `${workerUrl}/healthz`)).status === 200,
      'the worker healthy again',
      15_000,
    );

    // Each request answered 503 is retried with its key, as a client would (409 says when to come back):
    // one job each, whether or not the first went through.
    for (let i = 0; i < during.length; i++) {
      let retried = await call('POST', `${apiUrl}/v1/jobs`, job(`during-${i}`), { 'idempotency-key': `during-${i}` });
      for (let tries = 0; retried.status === 409 && tries < 30; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        retried = await call('POST', `${apiUrl}/v1/jobs`, job(`during-${i}`), { 'idempotency-key': `during-${i}` });
      }
      expect(retried.status).toBe(202);
      accepted.push(retried.body.id as string);
    }
    for (let i = 0; i < 10; i++) {
      const after = await call('POST', `${apiUrl}/v1/jobs`, job(`after-${i}`));
      expect(after.status).toBe(202);
      accepted.push(after.body.id as string);
    }

    // (A timeout names the jobs still unfinished, with their records.)
    let unfinished: unknown[] = [];
    await until(
      async () => {
        const records = await Promise.all(
          accepted.map(async (id) => (await call('GET', `${apiUrl}/v1/jobs/${id}`)).body),
        );
        unfinished = records.filter((record) => record.status !== 'completed');
        return unfinished.length === 0;
      },
      'every accepted job completed',
      120_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; unfinished: ${JSON.stringify(unfinished)}`);
    });
    // One submit per marker: no job made twice, none lost.
    const byMarker = emulator.stats().submits.byMarker;
    expect(Object.keys(byMarker).sort()).toEqual(
      [
        ...Array.from({ length: 10 }, (_, i) => `before-${i}`),
        ...Array.from({ length: 5 }, (_, i) => `during-${i}`),
        ...Array.from({ length: 10 }, (_, i) => `after-${i}`),
      ].sort(),
    );
    expect(Object.values(byMarker).every((count) => count === 1)).toBe(true);
  }, 200_000);
});
