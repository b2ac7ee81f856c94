// A bucket that does not exist is a configuration mistake, named at once: both processes'
// /readyz answer 503 (the API's public one says "storage"; its operator status and the worker's
// /readyz, on its internal port, say which bucket and which setting), the worker submits nothing
// (nothing is paid for that could not be stored), and once the bucket exists the queued
// jobs run within one check interval. S3_CREATE_BUCKET=true makes the bucket instead.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { type Emulator, startEmulator } from '@renderq/segmind-emulator';
import {
  freePort,
  type NodeService,
  type RedisHandle,
  type S3Handle,
  spawnNodeService,
  startRedis,
  startS3,
  uniqueName,
} from '@renderq/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

const apiMain = fileURLToPath(new URL('../../api/dist/main.js', import.meta.url));
const workerMain = fileURLToPath(new URL('../../worker/dist/main.js', import.meta.url));

let redis: RedisHandle;
let emulator: Emulator;
let s3: S3Handle;
let dir: string;
const services: NodeService[] = [];

beforeAll(async () => {
  [redis, emulator, s3, dir] = await Promise.all([
    startRedis({ own: true }),
    startEmulator({ latencyScale: 0.02, latencyJitter: 0 }),
    startS3(),
    mkdtemp(path.join(tmpdir(), 'renderq-bucket-')),
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.all(services.map((service) => service.stop()));
  await Promise.all([emulator?.close(), redis?.stop(), s3?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

async function start(main: string, env: Record<string, string>, readyUrl: string) {
  const service = await spawnNodeService({ main, env, readyUrl });
  services.push(service);
  return service;
}

function envFor(bucket: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...s3.env('outputs'),
    STORAGE_URL: `s3://${bucket}/outputs`,
    REDIS_URL: redis.url,
    RENDERQ_PREFIX: uniqueName('bucket'),
    SEGMIND_BASE_URL: emulator.url,
    SEGMIND_API_KEY: emulator.apiKey,
    STORAGE_CHECK_INTERVAL_MS: '300',
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

const json = async (url: string, init?: RequestInit) => {
  const response = await fetch(url, init);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

describe('a missing bucket', () => {
  it('fails /readyz, names it to the operator, submits nothing, and runs the queued job once the bucket exists', async () => {
    const bucket = 'renderq-late-bucket';
    const env = envFor(bucket);
    const [apiPort, workerPort] = [await freePort(), await freePort()];
    const api = `http://127.0.0.1:${apiPort}`;
    const worker = `http://127.0.0.1:${workerPort}`;
    await Promise.all([
      start(apiMain, { ...env, PORT: String(apiPort) }, `${api}/healthz`),
      start(workerMain, { ...env, WORKER_METRICS_PORT: String(workerPort) }, `${worker}/healthz`),
    ]);
    const problem = `bucket "${bucket}" does not exist at ${s3.endpoint} (STORAGE_URL; S3_CREATE_BUCKET=true creates it)`;
    // Public: the cause, not the endpoint or the bucket. The operator's status names them.
    expect(await json(`${api}/readyz`)).toEqual({ status: 503, body: { status: 'unavailable', reason: 'storage' } });
    // (No keys configured: every caller is the operator.)
    expect(await json(`${api}/v1/admin/status`)).toMatchObject({
      status: 200,
      body: { storage: { usable: false, problem } },
    });
    expect(await json(`${worker}/readyz`)).toMatchObject({
      status: 503,
      body: { status: 'unavailable', reason: 'storage', storage: problem },
    });
    // Alive all the same: restarting would not make the bucket.
    expect((await json(`${worker}/healthz`)).status).toBe(200);

    const created = await json(`${api}/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'segmind-vega', input: { prompt: 'marker:late-bucket a lighthouse' } }),
    });
    expect(created.status).toBe(202);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect((await json(`${api}/v1/jobs/${created.body.id}`)).body.status).toBe('queued');
    expect(emulator.stats().submits.byMarker['late-bucket'] ?? 0).toBe(0);

    const client = new S3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: true,
      credentials: s3.credentials,
    });
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    client.destroy();
    await vi.waitFor(async () => expect((await json(`${api}/readyz`)).status).toBe(200), { timeout: 10_000 });
    await vi.waitFor(async () => expect((await json(`${worker}/readyz`)).status).toBe(200), { timeout: 10_000 });
    await vi.waitFor(
      async () => expect((await json(`${api}/v1/jobs/${created.body.id}`)).body.status).toBe('completed'),
      { timeout: 60_000, interval: 200 },
    );
    expect(emulator.stats().submits.byMarker['late-bucket']).toBe(1);
  }, 150_000);

  it('is created at start with S3_CREATE_BUCKET=true', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    await start(
      apiMain,
      envFor('renderq-made-at-start', { S3_CREATE_BUCKET: 'true', PORT: String(port) }),
      `${url}/healthz`,
    );
    // Ready once its storage check has found the bucket it made (on a loaded machine, after /healthz).
    await vi.waitFor(
      async () => expect(await json(`${url}/readyz`)).toEqual({ status: 200, body: { status: 'ready', pause: null } }),
      { timeout: 20_000, interval: 200 },
    );
  }, 60_000);
});
