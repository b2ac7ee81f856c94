// Liveness by progress: a worker whose BullMQ worker stops taking jobs while Redis answers fails
// /healthz within WORKER_STALL_SECONDS, replaces that BullMQ worker, and takes the jobs again.
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Emulator, startEmulator } from '@renderq/segmind-emulator';
import {
  closeRedis,
  createRedis,
  JobStore,
  loadConfig,
  openStorage,
  QUEUE_NAMES,
  queueOptions,
  type RedisConnection,
} from '@renderq/shared';
import { freePort, type RedisHandle, startRedis, uniqueName } from '@renderq/testing';
import { Queue, type Worker } from 'bullmq';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHealthServer } from '../src/health-server.js';
import { type RunningWorker, startWorker } from '../src/start-worker.js';
import { workerHealth } from '../src/worker-health.js';

const STALL_SECONDS = 2;

let redisServer: RedisHandle;
let emulator: Emulator;
let redis: RedisConnection;
let worker: RunningWorker;
let renderQueue: Queue;
let store: JobStore;
let healthUrl: string;
let closeHealth: () => Promise<void>;
let dir: string;
const lines: string[] = [];

beforeAll(async () => {
  [redisServer, emulator] = await Promise.all([startRedis(), startEmulator({ latencyScale: 0.1, latencyJitter: 0 })]);
  dir = await mkdtemp(path.join(tmpdir(), 'renderq-stall-'));
  const prefix = uniqueName('stall');
  const config = loadConfig(
    {
      REDIS_URL: redisServer.url,
      RENDERQ_PREFIX: prefix,
      SEGMIND_BASE_URL: emulator.url,
      SEGMIND_API_KEY: emulator.apiKey,
      STORAGE_URL: `file://${dir}`,
      WORKER_STALL_SECONDS: String(STALL_SECONDS),
      FAIR_SHARE: 'false',
    },
    { role: 'worker' },
  );
  redis = createRedis(config.redis.url, 'worker');
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
  worker = await startWorker({ config, logger, redis, storage: openStorage(config.storage) });
  renderQueue = new Queue(QUEUE_NAMES.render, queueOptions(redis, prefix));
  store = new JobStore({ redis, queue: renderQueue, prefix, retentionMs: 3_600_000, fairShare: false });
  const server = await startHealthServer({
    host: '127.0.0.1',
    port: await freePort(),
    metrics: worker.metrics,
    health: () => workerHealth(redis, worker),
  });
  healthUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`;
  closeHealth = () => new Promise((resolve) => server.close(() => resolve()));
}, 60_000);

afterAll(async () => {
  await closeHealth?.();
  await worker?.close();
  await renderQueue?.close();
  if (redis) await closeRedis(redis);
  await Promise.all([emulator?.close(), redisServer?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

/**
 * Stops a BullMQ worker taking jobs while Redis answers: its every look for the next job hangs.
 * Resolves once it is stuck in one (the look under way when called has ended).
 */
function stopConsuming(stuck: Worker): Promise<void> {
  return new Promise((resolve) => {
    (stuck as unknown as { _getNextJob: () => Promise<undefined> })._getNextJob = () => {
      resolve();
      return new Promise(() => {});
    };
  });
}

async function renewals(queue: string): Promise<number> {
  const text = await worker.metrics.registry.getSingleMetricAsString('renderq_worker_renewals_total');
  return Number(new RegExp(`queue="${queue}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('liveness by progress', () => {
  it('fails /healthz within WORKER_STALL_SECONDS of due jobs going untaken, replaces the BullMQ worker, and recovers', async () => {
    expect((await fetch(healthUrl)).status).toBe(200);
    const render = worker.consumers.find((c) => c.queueName === QUEUE_NAMES.render);
    const stuck = render?.worker as Worker;
    await stopConsuming(stuck);

    const due = Date.now();
    const record = await store.create({ tenant: 't', model: 'segmind-vega', input: { prompt: 'a stalled worker' } });
    let failedAfter: number | undefined;
    let body: { status?: string; reason?: string } = {};
    while (Date.now() - due < 4 * STALL_SECONDS * 1_000) {
      const answer = await fetch(healthUrl);
      if (answer.status === 503) {
        failedAfter = Date.now() - due;
        body = (await answer.json()) as typeof body;
        break;
      }
      await sleep(100);
    }
    // Found within the stall period and a check (a tenth of it), and said why.
    expect(failedAfter).toBeDefined();
    expect(failedAfter).toBeLessThanOrEqual(STALL_SECONDS * 1_000 * 1.1 + 1_000);
    expect(body.reason).toMatch(/the render queue has jobs due and this worker has taken none/);

    // Replaced by a fresh BullMQ worker, which takes the job: the job completes and /healthz is 200 again.
    let stage = '';
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      stage = (await store.get(record.id))?.stage.name ?? '';
      if (stage === 'completed' && (await fetch(healthUrl)).status === 200) break;
      await sleep(200);
    }
    expect(stage).toBe('completed');
    process.stdout.write(
      `progress-watch figures: /healthz 503 ${failedAfter} ms after the job was due (WORKER_STALL_SECONDS=${STALL_SECONDS}); ` +
        `completed and 200 again ${Date.now() - due} ms after\n`,
    );
    expect(render?.worker).not.toBe(stuck);
    expect((await fetch(healthUrl)).status).toBe(200);
    expect(await renewals('render')).toBeGreaterThanOrEqual(1);
    expect(await worker.metrics.registry.metrics()).toMatch(/renderq_worker_stalled\{queue="render"\} 0/);
    expect(lines.join('')).toContain('replacing its BullMQ worker (fresh connections)');
    expect(lines.join('')).toContain('the worker takes jobs again');
  }, 60_000);

  it('does not count a queue as stalled while its jobs are merely arriving or it is idle', async () => {
    // Busy with jobs that keep coming, and then idle: no renewal.
    const before = { render: await renewals('render'), poll: await renewals('poll') };
    const ids = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await store.create({ tenant: 't', model: 'segmind-vega', input: { prompt: `busy ${i}` } })).id);
      await sleep(300);
    }
    await sleep(STALL_SECONDS * 1_000 * 1.5);
    expect({ render: await renewals('render'), poll: await renewals('poll') }).toEqual(before);
    expect((await fetch(healthUrl)).status).toBe(200);
  }, 60_000);
});
