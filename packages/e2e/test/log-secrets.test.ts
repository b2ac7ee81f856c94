// No secret and no link signature in any log line of a full run: the API and a worker
// (child processes, logging at `trace`) take a job with a webhook through to a stored
// output; the output is fetched by its key-free link and by key, the webhook arrives
// signed, operators and strangers call too. Then every line both processes wrote is
// searched for every key, secret and signature that crossed the wire.
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
  startWebhookReceiver,
  uniqueName,
  type WebhookReceiver,
} from '@renderq/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const TENANT_KEY = 'tenant-key-logs-0123456789';
const OTHER_KEY = 'other-key-logs-0123456789';
const OPERATOR_KEY = 'operator-key-logs-0123456789abcdef';
const WEBHOOK_SECRET = `whsec_${Buffer.from('renderq log test webhook secret 32').toString('base64')}`;
const OUTPUT_LINK_SECRET = 'output-link-secret-logs-0123456789';
const SEGMIND_KEY = 'segmind-key-logs-0123456789';
const apiMain = fileURLToPath(new URL('../../api/dist/main.js', import.meta.url));
const workerMain = fileURLToPath(new URL('../../worker/dist/main.js', import.meta.url));

let redis: RedisHandle;
let emulator: Emulator;
let receiver: WebhookReceiver;
let api: NodeService;
let worker: NodeService;
let apiUrl: string;
let dir: string;

beforeAll(async () => {
  [redis, emulator, receiver] = await Promise.all([
    startRedis(),
    startEmulator({ latencyScale: 0.02, latencyJitter: 0, apiKeys: [SEGMIND_KEY] }),
    startWebhookReceiver(),
  ]);
  dir = await mkdtemp(path.join(tmpdir(), 'renderq-logs-'));
  const [apiPort, workerPort] = [await freePort(), await freePort()];
  apiUrl = `http://127.0.0.1:${apiPort}`;
  const env = {
    REDIS_URL: redis.url,
    RENDERQ_PREFIX: uniqueName('logs'),
    RENDERQ_API_KEYS: `logs:${TENANT_KEY},other:${OTHER_KEY}`,
    RENDERQ_ADMIN_KEYS: OPERATOR_KEY,
    STORAGE_URL: `file://${dir}`,
    SEGMIND_BASE_URL: emulator.url,
    SEGMIND_API_KEY: SEGMIND_KEY,
    WEBHOOK_SECRET,
    WEBHOOK_ALLOW_PRIVATE: 'true',
    OUTPUT_LINK_SECRET,
    PUBLIC_BASE_URL: apiUrl,
    LOG_LEVEL: 'trace',
  };
  [api, worker] = await Promise.all([
    spawnNodeService({ main: apiMain, env: { ...env, PORT: String(apiPort) }, readyUrl: `${apiUrl}/readyz` }),
    spawnNodeService({
      main: workerMain,
      env: { ...env, WORKER_METRICS_PORT: String(workerPort) },
      readyUrl: `http://127.0.0.1:${workerPort}/healthz`,
    }),
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.all([api?.stop(), worker?.stop()]);
  await Promise.all([emulator?.close(), receiver?.close(), redis?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

const auth = (key: string) => ({ authorization: `Bearer ${key}` });

describe('logs of a full run', () => {
  it('carry no secret and no link signature', async () => {
    const created = await fetch(`${apiUrl}/v1/jobs`, {
      method: 'POST',
      headers: { ...auth(TENANT_KEY), 'content-type': 'application/json', 'idempotency-key': 'logs-1' },
      body: JSON.stringify({
        model: 'segmind-vega',
        input: { prompt: 'a lighthouse at dusk', samples: 2 },
        webhook_url: `${receiver.url}/hook?token=receiver-token-0123456789`,
      }),
    });
    expect(created.status).toBe(202);
    const { id } = (await created.json()) as { id: string };
    let job: { status: string; outputs: { url: string }[] } = { status: 'queued', outputs: [] };
    for (let tries = 0; job.status !== 'completed' && tries < 300; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      job = (await (await fetch(`${apiUrl}/v1/jobs/${id}`, { headers: auth(TENANT_KEY) })).json()) as typeof job;
    }
    expect(job.status).toBe('completed');
    const [hook] = await receiver.waitFor(1);

    // Outputs by their key-free links, and by key; a tampered link; strangers and operators.
    const signatures = job.outputs.map((output) => new URL(output.url).searchParams.get('signature') as string);
    expect(signatures.every((s) => s.length > 20)).toBe(true);
    for (const output of job.outputs) expect((await fetch(output.url)).status).toBe(200);
    expect((await fetch(`${apiUrl}/v1/jobs/${id}/outputs/0`, { headers: auth(TENANT_KEY) })).status).toBe(200);
    const tampered = (job.outputs[0]?.url ?? '').replace(
      /signature=(.)/,
      (_, first: string) => `signature=${first === 'A' ? 'B' : 'A'}`,
    );
    expect((await fetch(tampered)).status).toBe(401);
    expect((await fetch(`${apiUrl}/v1/jobs/${id}`, { headers: auth(OTHER_KEY) })).status).toBe(404);
    expect((await fetch(`${apiUrl}/v1/jobs/${id}`, { headers: auth('a-made-up-key-0123456789') })).status).toBe(401);
    expect((await fetch(`${apiUrl}/v1/admin/status`, { headers: auth(OPERATOR_KEY) })).status).toBe(200);
    const basic = `Basic ${Buffer.from(`ops:${OPERATOR_KEY}`).toString('base64')}`;
    expect((await fetch(`${apiUrl}/admin/queues`, { headers: { authorization: basic } })).status).toBe(200);
    expect((await fetch(`${apiUrl}/v1/jobs/${id}?api_key=${TENANT_KEY}`)).status).toBe(401);
    // Near-miss spellings of a valid signature are refused, and must not be logged either.
    const [path, query] = String(job.outputs[0]?.url).split('?') as [string, string];
    const expires = new URLSearchParams(query).get('expires');
    for (const name of ['signature[]', '%20signature', 'signature%5b%5d', 'signature.', 'Signature']) {
      const answer = await fetch(`${path}?expires=${expires}&${name}=${signatures[0]}`);
      expect(answer.status).toBe(401);
    }

    await Promise.all([api.stop(), worker.stop()]);
    const lines = `${api.output()}\n${worker.output()}`.split('\n').filter((line) => line.trim() !== '');
    const secrets = [
      TENANT_KEY,
      OTHER_KEY,
      OPERATOR_KEY,
      WEBHOOK_SECRET,
      WEBHOOK_SECRET.slice('whsec_'.length),
      OUTPUT_LINK_SECRET,
      SEGMIND_KEY,
      'receiver-token-0123456789',
      Buffer.from(`ops:${OPERATOR_KEY}`).toString('base64'),
      ...signatures,
      ...String(hook?.headers['webhook-signature'])
        .split(' ')
        .map((s) => s.slice(s.indexOf(',') + 1)),
    ];
    const leaks = lines.flatMap((line) =>
      secrets.filter((secret) => line.includes(secret)).map((secret) => `${secret}: ${line}`),
    );
    expect(leaks).toEqual([]);
    // The run was logged (one line per request, links with their signature taken out).
    expect(lines.length).toBeGreaterThan(20);
    const requests = lines.filter((line) => line.includes('"msg":"request"'));
    expect(requests.length).toBeGreaterThanOrEqual(10);
    expect(requests.some((line) => /outputs\/0\?expires=\d+&signature=REDACTED/.test(line))).toBe(true);
  }, 90_000);
});
