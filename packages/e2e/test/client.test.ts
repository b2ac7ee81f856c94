// The typed client against the whole system: the API (in this process, listening), a
// worker (a child process), the Segmind emulator, real Redis, file storage, and a real
// webhook receiver that checks every signature with the client's verifyWebhook and
// with the standardwebhooks package.
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildApp } from '@renderq/api';
import { type Job, RenderqApiError, RenderqClient, verifyWebhook, type WebhookPayload } from '@renderq/client';
import { type Emulator, startEmulator } from '@renderq/segmind-emulator';
import { closeRedis, createMetrics, createRedis, loadConfig } from '@renderq/shared';
import {
  freePort,
  type ReceivedWebhook,
  type RedisHandle,
  startRedis,
  startWebhookReceiver,
  uniqueName,
  type WebhookReceiver,
} from '@renderq/testing';
import { spawnWorker, type WorkerChild } from '@renderq/worker/testing';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const SECRET = `whsec_${Buffer.from('renderq end-to-end webhook secret').toString('base64')}`;
// Mid-rotation: every webhook is signed with both, and a receiver holding either accepts it.
const OLD_SECRET = `whsec_${Buffer.from('renderq end-to-end previous secret').toString('base64')}`;
const API_KEY = 'e2e-key-0123456789';

let redisServer: RedisHandle;
let emulator: Emulator;
let receiver: WebhookReceiver;
let redis: Redis;
let app: FastifyInstance;
let worker: WorkerChild;
let dir: string;
let client: RenderqClient;
let baseUrl: string;

beforeAll(async () => {
  [redisServer, emulator, receiver] = await Promise.all([
    startRedis(),
    startEmulator({ latencyScale: 0.02, latencyJitter: 0, gpusPerModel: 100 }),
    startWebhookReceiver(),
  ]);
  dir = await mkdtemp(path.join(tmpdir(), 'renderq-e2e-'));
  const port = await freePort();
  const env = {
    REDIS_URL: redisServer.url,
    RENDERQ_PREFIX: uniqueName('e2e'),
    RENDERQ_API_KEYS: `e2e:${API_KEY}`,
    STORAGE_URL: `file://${dir}`,
    PORT: String(port),
    SEGMIND_BASE_URL: emulator.url,
    SEGMIND_API_KEY: emulator.apiKey,
    WEBHOOK_SECRET: `${SECRET},${OLD_SECRET}`,
    // The receiver and the emulator listen on 127.0.0.1.
    WEBHOOK_ALLOW_PRIVATE: 'true',
    OUTPUT_LINK_SECRET: 'e2e output link secret 0123456789',
    LOG_LEVEL: 'warn',
  };
  redis = createRedis(redisServer.url, 'client');
  app = await buildApp({
    config: loadConfig(env),
    logger: pino({ level: 'silent' }),
    redis,
    metrics: createMetrics({ processMetrics: false }),
  });
  await app.listen({ host: '127.0.0.1', port });
  worker = await spawnWorker({ env: { ...env, WORKER_METRICS_PORT: String(await freePort()) }, captureOutput: true });
  baseUrl = `http://127.0.0.1:${port}`;
  client = new RenderqClient({ baseUrl, apiKey: API_KEY });
}, 60_000);

afterAll(async () => {
  if (worker?.child.exitCode === null) {
    worker.child.kill('SIGTERM');
    await worker.exited;
  }
  await app?.close();
  await closeRedis(redis);
  await Promise.all([emulator?.close(), receiver?.close(), redisServer?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

function verified(hook: ReceivedWebhook): WebhookPayload {
  const headers = {
    'webhook-id': String(hook.headers['webhook-id']),
    'webhook-timestamp': String(hook.headers['webhook-timestamp']),
    'webhook-signature': String(hook.headers['webhook-signature']),
  };
  // A third-party Standard Webhooks verifier agrees with ours.
  expect(new Webhook(SECRET).verify(hook.body, headers)).toEqual(JSON.parse(hook.body));
  expect(new Webhook(OLD_SECRET).verify(hook.body, headers)).toEqual(JSON.parse(hook.body));
  expect(verifyWebhook(OLD_SECRET, headers, hook.body)).toEqual(JSON.parse(hook.body));
  return verifyWebhook(SECRET, hook.headers as Record<string, string>, hook.body);
}

describe('the renderq client, end to end', () => {
  it('creates a job, waits for it with progress, downloads its output, and receives its signed webhook', async () => {
    const created = await client.createJob({
      model: 'segmind-vega',
      input: { prompt: 'marker:e2e-1 a lighthouse', samples: 1 },
      webhook_url: `${receiver.url}/job`,
      metadata: { order: 1 },
    });
    expect(created).toMatchObject({ status: 'queued', metadata: { order: 1 } });
    const seen: string[] = [];
    const job = await client.waitForJob(created.id, {
      intervalMs: 50,
      timeoutMs: 60_000,
      onProgress: (current) => seen.push(current.status),
    });
    expect(job.status).toBe('completed');
    expect(seen.at(-1)).toBe('completed');
    const bytes = await client.downloadOutput(job, 0);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(job.outputs[0]?.sha256);
    expect(bytes.length).toBe(job.outputs[0]?.size);

    const [hook] = await receiver.waitFor(1, (h) => h.path === '/job');
    const payload = verified(hook as ReceivedWebhook);
    expect(payload.type).toBe('job.completed');
    expect((payload.data as Job).id).toBe(job.id);
    // The link in the webhook needs no key: a receiver can fetch the output with it.
    const linked = await fetch((payload.data as Job).outputs[0]?.url as string);
    expect(
      createHash('sha256')
        .update(Buffer.from(await linked.arrayBuffer()))
        .digest('hex'),
    ).toBe(job.outputs[0]?.sha256);

    const deliveries = await waitForDelivered(job.id);
    expect(deliveries).toMatchObject([
      { id: `evt_${job.id}_completed`, status: 'delivered', attempts: [{ attempt: 1, status_code: 200 }] },
    ]);
    const redelivered = await client.redeliverWebhooks('job', job.id);
    expect(redelivered[0]?.status).toBe('pending');
    const again = await receiver.waitFor(2, (h) => h.path === '/job');
    expect(again[1]?.headers['webhook-id']).toBe(`evt_${job.id}_completed`);
  }, 90_000);

  it('streams a batch as NDJSON, waits for it, lists its jobs, and gets batch.completed once', async () => {
    const jobs = Array.from({ length: 20 }, (_, i) => ({
      model: 'segmind-vega-rt-v1',
      input: { prompt: `marker:e2e-batch-${i} a harbour` },
      metadata: { i },
    }));
    const created = await client.createBatchStream(jobs, {
      webhook_url: `${receiver.url}/batch`,
      webhook_events: ['batch.completed'],
    });
    expect(created.counts.total).toBe(20);
    const progress: number[] = [];
    const batch = await client.waitForBatch(created.id, {
      intervalMs: 50,
      timeoutMs: 60_000,
      onProgress: (current) => progress.push(current.counts.completed),
    });
    expect(batch).toMatchObject({ status: 'completed', counts: { total: 20, completed: 20 } });
    expect(progress.at(-1)).toBe(20);
    const listed: Job[] = [];
    for await (const job of client.batchJobs(batch.id)) listed.push(job);
    expect(listed.map((job) => job.metadata?.i)).toEqual(jobs.map((_, i) => i));
    expect(listed.every((job) => job.status === 'completed' && job.batch_id === batch.id)).toBe(true);

    const [hook] = await receiver.waitFor(1, (h) => h.path === '/batch');
    await new Promise((resolve) => setTimeout(resolve, 500));
    // Only batch.completed was asked for: no job events.
    expect(receiver.received.filter((h) => h.path === '/batch')).toHaveLength(1);
    expect(verified(hook as ReceivedWebhook)).toMatchObject({
      type: 'batch.completed',
      data: { id: batch.id, status: 'completed', counts: { total: 20, completed: 20 } },
    });
  }, 90_000);

  it('answers bad requests with typed errors, and makes a retried create one job', async () => {
    const invalid = await client.createJob({ model: 'segmind-vega', input: { samples: 99 } }).catch((e) => e);
    expect(invalid).toBeInstanceOf(RenderqApiError);
    expect(invalid).toMatchObject({ status: 400, retryable: false });
    expect((invalid as RenderqApiError).problem.errors?.map((e) => e.path)).toEqual(
      expect.arrayContaining(['input.prompt', 'input.samples']),
    );
    const stranger = new RenderqClient({ baseUrl, apiKey: 'wrong-key-0123456789' });
    await expect(stranger.getJob('job_x')).rejects.toMatchObject({ status: 401 });
    await expect(client.getJob('job_nope')).rejects.toMatchObject({ status: 404 });

    const job = { model: 'segmind-vega-rt-v1', input: { prompt: 'marker:e2e-idem once' } };
    const first = await client.createJob(job, { idempotencyKey: 'order-77' });
    const second = await client.createJob(job, { idempotencyKey: 'order-77' });
    expect(second.id).toBe(first.id);
    // A batch too: its retry under the same key is the same batch, JSON or streamed.
    const batch = { jobs: [job], metadata: { order: 78 } };
    const firstBatch = await client.createBatch(batch, { idempotencyKey: 'order-78' });
    expect(await client.createBatch(batch, { idempotencyKey: 'order-78' })).toEqual(firstBatch);
    const streamed = () => client.createBatchStream([job], { idempotencyKey: 'order-79' });
    expect((await streamed()).id).toBe((await streamed()).id);
    const cancelled = await client.cancelJob(first.id).catch((e: RenderqApiError) => e);
    // Either it was still unfinished (now cancelled) or it had already finished (409).
    if (cancelled instanceof RenderqApiError) expect(cancelled.status).toBe(409);
    else expect(cancelled.status).toBe('cancelled');
    expect((await client.models()).map((m) => m.name)).toContain('segmind-vega');
  }, 60_000);
});

describe('the client’s listing, batches, input images and metrics, end to end', () => {
  it('lists jobs a page at a time and all of them, filtered, newest first', async () => {
    const batch = await client.createBatch({
      jobs: Array.from({ length: 5 }, (_, i) => ({
        model: 'segmind-vega-rt-v1',
        input: { prompt: `marker:e2e-list-${i} a pier` },
        metadata: { i },
      })),
    });
    expect(batch.jobs.map((job) => job.index)).toEqual([0, 1, 2, 3, 4]);
    expect(batch.cost).toBeNull();
    const done = await client.waitForBatch(batch.id, { intervalMs: 50, timeoutMs: 60_000 });
    expect(done.cost).toBeCloseTo(5 * 0.0015, 9);

    const first = await client.listJobs({ batch_id: batch.id, limit: 2 });
    expect(first.jobs).toHaveLength(2);
    expect(first.next_cursor).toEqual(expect.any(String));
    const second = await client.listJobs({ cursor: first.next_cursor as string, limit: 2 });
    expect(second.jobs.every((job) => job.batch_id === batch.id)).toBe(true);
    const all: Job[] = [];
    for await (const job of client.jobs({ batch_id: batch.id, status: 'completed' }, { pageSize: 2 })) all.push(job);
    expect(new Set(all.map((job) => job.id))).toEqual(new Set(batch.jobs.map((job) => job.id)));
    let everyone = 0;
    for await (const job of client.jobs({ model: 'segmind-vega-rt-v1' })) {
      expect(job.model).toBe('segmind-vega-rt-v1');
      everyone++;
    }
    expect(everyone).toBeGreaterThanOrEqual(all.length);
    await expect(client.listJobs({ cursor: 'garbage' })).rejects.toMatchObject({ status: 400 });
  }, 90_000);

  it('stores an inline input image, links to it in the job and its webhook, and renders from it', async () => {
    const png =
      'iVBORw0KGgoAAAANSUhEUgAAAEAAAABACAIAAAAlC+aJAAAACXBIWXMAAAPoAAAD6AG1e1JrAAAAn0lEQVRoge2SQQkAQRDD6imeKm5Vnoh7hIFCBKSh4fU00Q3YgOoV2YV6l+gGbED1iuxCvUt0AzagekV2od4lugEbUL0iu1DvEt2ADahekV2od4luwAZUr8gu1LtEN2ADqldkF+pdohuwAdUrsgv1LtEN2IDqFdmFepfoBmxA9YrsQr1LdAM2oHpFdqHeJboBG1C9IrtQ7xLdgA2oXvEPH4sRMS34XATrAAAAAElFTkSuQmCC';
    const created = await client.createJob({
      model: 'ssd-img2img',
      input: { image: png, prompt: 'marker:e2e-image the same in winter' },
      webhook_url: `${receiver.url}/image`,
    });
    const image = created.input.image as { url: string; sha256: string; size: number };
    expect(image.sha256).toBe(createHash('sha256').update(Buffer.from(png, 'base64')).digest('hex'));
    const fetched = Buffer.from(await (await fetch(image.url)).arrayBuffer());
    expect(fetched).toEqual(Buffer.from(png, 'base64'));
    const job = await client.waitForJob(created.id, { intervalMs: 50, timeoutMs: 60_000 });
    expect(job).toMatchObject({ status: 'completed', input: { image: { sha256: image.sha256 } } });
    const [hook] = await receiver.waitFor(1, (h) => h.path === '/image');
    expect(hook?.body).not.toContain(png.slice(0, 40));
    expect((verified(hook as ReceivedWebhook).data as Job).input).toMatchObject({ image: { sha256: image.sha256 } });
  }, 90_000);

  it('shows the same credit balance on the API’s /metrics as on the worker’s: the one Segmind last reported', async () => {
    const sample = async (url: string) =>
      (await (await fetch(url)).text())
        .split('\n')
        .find((line) => line.startsWith('renderq_segmind_credits_remaining '));
    const job = await client.createJob({ model: 'segmind-vega-rt-v1', input: { prompt: 'marker:e2e-credits a dune' } });
    await client.waitForJob(job.id, { intervalMs: 50, timeoutMs: 60_000 });
    const balance = emulator.stats().credits.balance;
    expect(await sample(`${baseUrl}/metrics`)).toBe(`renderq_segmind_credits_remaining ${balance}`);
    expect(await sample(worker.metricsUrl)).toBe(`renderq_segmind_credits_remaining ${balance}`);
  }, 60_000);
});

async function waitForDelivered(jobId: string) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const events = await client.webhookDeliveries('job', jobId);
    if (events[0]?.status === 'delivered' || Date.now() > deadline) return events;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
