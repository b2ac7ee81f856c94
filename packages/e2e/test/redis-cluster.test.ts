// renderq on a Redis Cluster of three masters: the API (in this process) and a worker (a child process) with
// REDIS_CLUSTER=true and a hash-tag prefix run the happy path — single jobs, a batch, a cancel, webhooks — and
// every key they write lands in the one slot of the hash tag, so every script's keys are on one node.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildApp } from '@renderq/api';
import { type Job, RenderqClient, verifyWebhook } from '@renderq/client';
import { type Emulator, startEmulator } from '@renderq/segmind-emulator';
import { closeRedis, createMetrics, createRedis, loadConfig, type RedisConnection } from '@renderq/shared';
import { freePort, startWebhookReceiver, uniqueName, type WebhookReceiver } from '@renderq/testing';
import { spawnWorker, type WorkerChild } from '@renderq/worker/testing';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterUnavailable, type RedisCluster, startRedisCluster } from './redis-cluster.js';

const SECRET = `whsec_${Buffer.from('renderq cluster webhook secret').toString('base64')}`;
const API_KEY = 'cluster-key-0123456789';
const ADMIN_KEY = 'cluster-operator-key-0123456789';
const unavailable = clusterUnavailable();

let cluster: RedisCluster;
let emulator: Emulator;
let receiver: WebhookReceiver;
let redis: RedisConnection;
let app: FastifyInstance;
let worker: WorkerChild;
let dir: string;
let client: RenderqClient;
let baseUrl: string;
let prefix: string;

describe.skipIf(unavailable)(`renderq on a Redis Cluster${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  beforeAll(async () => {
    [cluster, emulator, receiver] = await Promise.all([
      startRedisCluster(3),
      startEmulator({ latencyScale: 0.02, latencyJitter: 0, gpusPerModel: 100 }),
      startWebhookReceiver(),
    ]);
    dir = await mkdtemp(path.join(tmpdir(), 'renderq-cluster-e2e-'));
    prefix = `{${uniqueName('cluster')}}`;
    const port = await freePort();
    const env = {
      REDIS_URL: cluster.url,
      REDIS_CLUSTER: 'true',
      RENDERQ_PREFIX: prefix,
      RENDERQ_API_KEYS: `acme:${API_KEY}`,
      RENDERQ_ADMIN_KEYS: ADMIN_KEY,
      STORAGE_URL: `file://${dir}`,
      PORT: String(port),
      SEGMIND_BASE_URL: emulator.url,
      SEGMIND_API_KEY: emulator.apiKey,
      WEBHOOK_SECRET: SECRET,
      // The receiver and the emulator listen on 127.0.0.1.
      WEBHOOK_ALLOW_PRIVATE: 'true',
      OUTPUT_LINK_SECRET: 'cluster output link secret 0123456789',
      LOG_LEVEL: 'warn',
    };
    const config = loadConfig(env);
    redis = createRedis(
      config.redis.url,
      'client',
      'api',
      config.redis.commandTimeoutMs,
      config.redis.cluster ?? false,
    );
    app = await buildApp({
      config,
      logger: pino({ level: 'silent' }),
      redis,
      metrics: createMetrics({ processMetrics: false }),
    });
    await app.listen({ host: '127.0.0.1', port });
    worker = await spawnWorker({ env: { ...env, WORKER_METRICS_PORT: String(await freePort()) }, captureOutput: true });
    baseUrl = `http://127.0.0.1:${port}`;
    client = new RenderqClient({ baseUrl, apiKey: API_KEY });
  }, 90_000);

  afterAll(async () => {
    if (worker?.child.exitCode === null) {
      worker.child.kill('SIGTERM');
      await worker.exited;
    }
    await app?.close();
    if (redis) await closeRedis(redis);
    await Promise.all([emulator?.close(), receiver?.close()]);
    await cluster?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const admin = (action: 'pause' | 'resume') =>
    fetch(`${baseUrl}/v1/admin/${action}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: '{}',
    });

  it('runs single jobs to completion and delivers their signed webhooks', async () => {
    const created = await Promise.all(
      [1, 2, 3].map((i) =>
        client.createJob({
          model: 'segmind-vega',
          input: { prompt: `marker:cluster-${i} a lighthouse`, samples: 1 },
          webhook_url: `${receiver.url}/job`,
        }),
      ),
    );
    const done = await Promise.all(
      created.map((job) => client.waitForJob(job.id, { intervalMs: 50, timeoutMs: 60_000 })),
    );
    expect(done.map((job) => job.status)).toEqual(['completed', 'completed', 'completed']);
    const bytes = await client.downloadOutput(done[0] as Job, 0);
    expect(bytes.length).toBe(done[0]?.outputs[0]?.size);
    const hooks = await receiver.waitFor(3, (hook) => hook.path === '/job');
    const payloads = hooks.map((hook) => verifyWebhook(SECRET, hook.headers as Record<string, string>, hook.body));
    expect(payloads.map((payload) => payload.type)).toEqual(['job.completed', 'job.completed', 'job.completed']);
    expect(new Set(payloads.map((payload) => (payload.data as Job).id))).toEqual(new Set(created.map((job) => job.id)));
  }, 90_000);

  it('runs a batch to completion and sends batch.completed once', async () => {
    const jobs = Array.from({ length: 8 }, (_, i) => ({
      model: 'segmind-vega-rt-v1',
      input: { prompt: `marker:cluster-batch-${i} a harbour` },
      metadata: { i },
    }));
    const created = await client.createBatch({
      jobs,
      webhook_url: `${receiver.url}/batch`,
      webhook_events: ['batch.completed'],
    });
    const batch = await client.waitForBatch(created.id, { intervalMs: 50, timeoutMs: 60_000 });
    expect(batch).toMatchObject({ status: 'completed', counts: { total: 8, completed: 8 } });
    const listed: Job[] = [];
    for await (const job of client.batchJobs(batch.id)) listed.push(job);
    expect(listed.map((job) => job.metadata?.i)).toEqual(jobs.map((_, i) => i));
    const [hook] = await receiver.waitFor(1, (h) => h.path === '/batch');
    expect(verifyWebhook(SECRET, hook?.headers as Record<string, string>, hook?.body ?? '')).toMatchObject({
      type: 'batch.completed',
      data: { id: batch.id, counts: { total: 8, completed: 8 } },
    });
  }, 90_000);

  it('cancels a waiting job and a waiting batch, and tells the cancelled job’s webhook', async () => {
    // Paused, nothing is taken: what is cancelled is surely still waiting.
    expect((await admin('pause')).status).toBe(200);
    try {
      const job = await client.createJob({
        model: 'segmind-vega',
        input: { prompt: 'marker:cluster-cancel a storm' },
        webhook_url: `${receiver.url}/cancel`,
      });
      expect((await client.cancelJob(job.id)).status).toBe('cancelled');
      const batch = await client.createBatch({
        jobs: [
          { model: 'segmind-vega-rt-v1', input: { prompt: 'marker:cluster-cancel-b1 a storm' } },
          { model: 'segmind-vega-rt-v1', input: { prompt: 'marker:cluster-cancel-b2 a storm' } },
        ],
      });
      expect(await client.cancelBatch(batch.id)).toMatchObject({ status: 'cancelled' });
      const cancelled = await client.waitForBatch(batch.id, { intervalMs: 50, timeoutMs: 30_000 });
      expect(cancelled.counts).toMatchObject({ total: 2, cancelled: 2 });
      const [hook] = await receiver.waitFor(1, (h) => h.path === '/cancel');
      expect(verifyWebhook(SECRET, hook?.headers as Record<string, string>, hook?.body ?? '')).toMatchObject({
        type: 'job.cancelled',
        data: { id: job.id, status: 'cancelled' },
      });
    } finally {
      await admin('resume');
    }
  }, 60_000);

  it('keeps every key of renderq and BullMQ in the one slot of the prefix’s hash tag', async () => {
    const counts = await Promise.all(
      cluster.nodes.map(async ({ host, port }) => {
        const node = new Redis({ host, port });
        try {
          const keys = await node.keys(`${prefix}*`);
          return {
            keys: keys.length,
            slots: new Set(await Promise.all(keys.map((key) => node.cluster('KEYSLOT', key)))),
          };
        } finally {
          node.disconnect();
        }
      }),
    );
    const holding = counts.filter((count) => count.keys > 0);
    expect(holding).toHaveLength(1);
    expect(holding[0]?.keys).toBeGreaterThan(20);
    expect(holding[0]?.slots.size).toBe(1);
  });
});
