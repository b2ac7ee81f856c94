// Webhook events as the job store records them: with the move that causes them, once,
// and on their way to the webhooks queue (real Redis, real BullMQ).
import { type RedisHandle, startRedis, uniqueName } from '@renderq/testing';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createRedis,
  JobStore,
  type NewJob,
  openWebhookQueue,
  QUEUE_NAMES,
  queueOptions,
  type WebhookQueue,
} from '../src/index.js';
import type { RenderJobData } from '../src/queues.js';
import { eventOutboxKey, pendingEventsKey } from '../src/redis/keys.js';
import { completeQueuedJob, moveQueuedToStoring } from './complete-job.js';

let server: RedisHandle;
let connections: Redis[];
let prefix: string;
let queues: { close(): Promise<void> }[];

const job = (overrides: Partial<NewJob> = {}): NewJob => ({
  tenant: 'acme',
  model: 'segmind-vega',
  input: { prompt: 'a lighthouse' },
  ...overrides,
});

/** A job store as one process has it: its own Redis connection, render queue and webhooks queue. */
function processStore(): { store: JobStore; webhooks: WebhookQueue; redis: Redis } {
  const redis = createRedis(server.url, 'worker');
  connections.push(redis);
  const queue = new Queue<RenderJobData>(QUEUE_NAMES.render, queueOptions(redis, prefix));
  const webhooks = openWebhookQueue(redis, prefix);
  queues.push(queue, webhooks.queue);
  return { store: new JobStore({ redis, queue, prefix, events: webhooks.events }), webhooks, redis };
}

beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server?.stop();
});
beforeEach(() => {
  prefix = uniqueName('events');
  connections = [];
  queues = [];
});
afterEach(async () => {
  await Promise.all(queues.map((q) => q.close()));
  for (const redis of connections) redis.disconnect();
});

describe('webhook events', () => {
  it('are recorded when a job with a webhook finishes, once, and put on the webhooks queue', async () => {
    const { store, webhooks } = processStore();
    const created = await store.create(job({ webhookUrl: 'https://hooks.example/a' }));
    const moved = await completeQueuedJob(store, created.id);
    expect(moved).toMatchObject({ ok: true, events: [`evt_${created.id}_completed`] });
    expect(await webhooks.events.get(`evt_${created.id}_completed`)).toMatchObject({
      type: 'job.completed',
      subject: { kind: 'job', id: created.id },
      tenant: 'acme',
      url: 'https://hooks.example/a',
      status: 'pending',
      attempts: 0,
    });
    expect((await webhooks.queue.getJob(`evt_${created.id}_completed`))?.data).toEqual({
      eventId: `evt_${created.id}_completed`,
    });
    // A job without a webhook, or one that asked for other events, records none.
    const plain = await store.create(job());
    const choosy = await store.create(job({ webhookUrl: 'https://hooks.example/b', webhookEvents: ['job.failed'] }));
    for (const id of [plain.id, choosy.id]) {
      expect(await completeQueuedJob(store, id)).toMatchObject({ events: [] });
    }
    expect(await webhooks.queue.count()).toBe(1);
  });

  it('are not recorded where webhooks are off (no events store)', async () => {
    const { redis } = processStore();
    const queue = new Queue<RenderJobData>(QUEUE_NAMES.render, queueOptions(redis, prefix));
    queues.push(queue);
    const store = new JobStore({ redis, queue, prefix });
    const created = await store.create(job({ webhookUrl: 'https://hooks.example/a' }));
    expect(await store.transition(created.id, 'cancel', { name: 'cancelled' })).toMatchObject({ events: [] });
  });

  it('give batch.completed exactly once when the last two jobs finish at the same moment in two processes (20 runs)', async () => {
    const one = processStore();
    const two = processStore();
    for (let run = 0; run < 20; run++) {
      const { batch, jobIds } = await one.store.createBatch(
        { tenant: 'acme', webhookUrl: 'https://hooks.example/batch' },
        [job(), job(), job()],
      );
      const [first, ...last] = jobIds as [string, string, string];
      await completeQueuedJob(one.store, first);
      await moveQueuedToStoring(one.store, last[0]);
      const results = await Promise.all([
        one.store.transition(last[0], 'complete', { name: 'completed' }),
        two.store.transition(last[1], 'fail_queued', {
          name: 'failed',
          error: { code: 'timeout', message: 'deadline' },
        }),
      ]);
      const batchEvents = results
        .flatMap((r) => (r.ok ? r.events : []))
        .filter((id) => id.startsWith(`evt_${batch.id}`));
      expect(batchEvents).toEqual([`evt_${batch.id}_completed`]);
      expect(results.filter((r) => r.ok && r.batchFinished)).toHaveLength(1);
      // The batch's jobs send to the batch's webhook.
      const events = await one.webhooks.events.forSubject('job', last[1]);
      expect(events).toMatchObject([{ type: 'job.failed', url: 'https://hooks.example/batch' }]);
      expect(await one.webhooks.events.forSubject('batch', batch.id)).toMatchObject([
        { type: 'batch.completed', subject: { kind: 'batch', id: batch.id }, tenant: 'acme' },
      ]);
    }
    // 20 batches × (3 job events + 1 batch event), each on the queue once.
    expect(await one.webhooks.queue.count()).toBe(80);
  });

  it('honour a batch’s event filter for its jobs and for batch.completed', async () => {
    const { store, webhooks } = processStore();
    const { batch, jobIds } = await store.createBatch(
      { tenant: 'acme', webhookUrl: 'https://hooks.example/batch', webhookEvents: ['batch.completed'] },
      [job(), job()],
    );
    for (const id of jobIds) await completeQueuedJob(store, id);
    expect(await webhooks.queue.count()).toBe(1);
    expect((await webhooks.events.forSubject('batch', batch.id)).map((e) => e.type)).toEqual(['batch.completed']);
  });

  it('left unpublished by a crash are published by recovery, under the same id', async () => {
    const { store, webhooks, redis } = processStore();
    const created = await store.create(job({ webhookUrl: 'https://hooks.example/a' }));
    await completeQueuedJob(store, created.id);
    const id = `evt_${created.id}_completed`;
    // As if the process died between recording the event and adding it to the queue.
    await (await webhooks.queue.getJob(id))?.remove();
    await redis.zadd(eventOutboxKey(prefix), Date.now() - 60_000, id);
    expect(await webhooks.events.recoverOutbox(30_000)).toBe(1);
    expect(await webhooks.queue.getJob(id)).toBeDefined();
    expect(await redis.zcard(eventOutboxKey(prefix))).toBe(0);
  });

  it('are redelivered as a new round under the same id once finished; a pending one is brought forward', async () => {
    const { store, webhooks } = processStore();
    const created = await store.create(job({ webhookUrl: 'https://hooks.example/a' }));
    await completeQueuedJob(store, created.id);
    const id = `evt_${created.id}_completed`;
    // Waiting out a retry: its queue job delayed for a minute.
    await (await webhooks.queue.getJob(id))?.remove();
    await webhooks.queue.add('deliver', { eventId: id }, { jobId: id, delay: 60_000 });
    expect(await (await webhooks.queue.getJob(id))?.isDelayed()).toBe(true);
    await webhooks.events.redeliver(id);
    expect(await (await webhooks.queue.getJob(id))?.isDelayed()).toBe(false);

    await webhooks.events.recordAttempt(id, {
      startedAt: Date.now(),
      durationMs: 12,
      statusCode: 200,
      outcome: 'delivered',
      error: null,
      status: 'delivered',
      nextAttemptAt: null,
    });
    expect(await webhooks.events.get(id)).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(await webhooks.events.roundAttempts(id)).toBe(1);
    const again = await webhooks.events.redeliver(id);
    expect(again).toMatchObject({ id, status: 'pending', attempts: 1 });
    expect(await webhooks.events.roundAttempts(id)).toBe(0);
    expect(await webhooks.queue.getJob(`${id}-r1`)).toBeDefined();
    expect(await webhooks.events.attempts(id)).toMatchObject([{ attempt: 1, status_code: 200, outcome: 'delivered' }]);
    expect(await webhooks.events.redeliver('evt_nothing_completed')).toBeUndefined();

    // A pending event whose queue job BullMQ gave up on is not stranded: redelivery starts a round.
    await (await webhooks.queue.getJob(`${id}-r1`))?.remove();
    expect(await webhooks.events.redeliver(id)).toMatchObject({ status: 'pending' });
    expect(await webhooks.queue.getJob(`${id}-r2`)).toBeDefined();
  });

  it('pending, are indexed by their next attempt; an event that finishes leaves the index, a redelivered one returns', async () => {
    const { store, webhooks, redis } = processStore();
    const index = pendingEventsKey(prefix);
    const created = await store.create(job({ webhookUrl: 'https://hooks.example/a' }));
    await completeQueuedJob(store, created.id);
    const id = `evt_${created.id}_completed`;
    expect(Number(await redis.zscore(index, id))).toBeGreaterThan(Date.now() - 5_000);

    const attempt = { startedAt: Date.now(), durationMs: 12, statusCode: 500, outcome: 'failed' as const, error: null };
    const nextAttemptAt = Date.now() + 60_000;
    await webhooks.events.recordAttempt(id, { ...attempt, status: 'pending', nextAttemptAt });
    expect(Number(await redis.zscore(index, id))).toBe(nextAttemptAt);
    await webhooks.events.recordAttempt(id, { ...attempt, status: 'failed', nextAttemptAt: null });
    expect(await redis.zscore(index, id)).toBeNull();
    await webhooks.events.redeliver(id);
    expect(Number(await redis.zscore(index, id))).toBeGreaterThan(Date.now() - 5_000);
    await webhooks.events.abandon(id);
    expect(await redis.zscore(index, id)).toBeNull();
    expect(await webhooks.events.get(id)).toMatchObject({ status: 'failed' });
  });

  it('pending and overdue, are handed out with their delivery jobs at a glance, under the queue job id of their round', async () => {
    const { store, webhooks, redis } = processStore();
    const index = pendingEventsKey(prefix);
    const ids = await Promise.all(
      ['live', 'lost', 'redelivered', 'delivered', 'waiting'].map(async (name) => {
        const created = await store.create(job({ webhookUrl: `https://hooks.example/${name}` }));
        await completeQueuedJob(store, created.id);
        return `evt_${created.id}_completed`;
      }),
    );
    const [live, lost, redelivered, delivered, waiting] = ids as [string, string, string, string, string];
    const attempt = {
      startedAt: Date.now(),
      durationMs: 12,
      statusCode: 200,
      outcome: 'delivered' as const,
      error: null,
    };
    await webhooks.events.recordAttempt(redelivered, { ...attempt, status: 'delivered', nextAttemptAt: null });
    await webhooks.events.redeliver(redelivered);
    await webhooks.queue.remove(lost);
    // Recorded delivered after it was already handed out: the caller is told, to forget it.
    await webhooks.events.recordAttempt(delivered, { ...attempt, status: 'delivered', nextAttemptAt: null });
    await redis.zadd(index, ...[live, lost, redelivered, delivered].flatMap((id) => [Date.now() - 120_000, id]));
    // `waiting`'s next attempt is not yet overdue.
    await webhooks.events.recordAttempt(waiting, {
      ...attempt,
      statusCode: 500,
      outcome: 'failed',
      status: 'pending',
      nextAttemptAt: Date.now() - 10_000,
    });

    const glances = [];
    for await (const page of webhooks.events.pendingEventsToCheck(60_000, { pageSize: 3 })) glances.push(...page);
    const byId = new Map(glances.map((glance) => [glance.id, glance]));
    expect([...byId.keys()].sort()).toEqual([live, lost, redelivered, delivered].sort());
    expect(byId.get(live)).toMatchObject({ status: 'pending', queueJob: live, delivery: { presence: 'present' } });
    expect(byId.get(lost)).toMatchObject({ status: 'pending', queueJob: lost, delivery: { presence: 'missing' } });
    expect(byId.get(redelivered)).toMatchObject({
      status: 'pending',
      queueJob: `${redelivered}-r1`,
      delivery: { presence: 'present', dueAt: null },
    });
    expect(byId.get(delivered)).toMatchObject({ status: 'delivered' });
    // Marked checked.
    const again = [];
    for await (const page of webhooks.events.pendingEventsToCheck(60_000)) again.push(...page);
    expect(again).toEqual([]);
    await webhooks.events.forgetPending([delivered]);
    expect(await redis.zscore(index, delivered)).toBeNull();
  });
});
