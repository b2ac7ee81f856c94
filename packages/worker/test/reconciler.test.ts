// The reconciler: jobs and webhook events whose BullMQ job was lost behind renderq's back
// (a queue drained or a job removed from a dashboard) are queued again, once, under the
// same ids; live ones are left alone; a round's cost is bounded however long the backlog.
import {
  createMetrics,
  type JobRecord,
  JobStore,
  type Metrics,
  openWebhookQueue,
  QUEUE_NAMES,
  queueOptions,
  reconcilerLockKey,
  unfinishedJobsKey,
  type WebhookQueue,
} from '@renderq/shared';
import { batchKey, eventKey, unenqueuedKey } from '@renderq/shared/keys';
import { Queue, Worker } from 'bullmq';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type ReconcilerOptions, startReconciler } from '../src/reconciler.js';
import { jobFor, type Stack, startStack } from './stack.js';

let stack: Stack | undefined;
let closers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(closers.map((c) => c.close()));
  closers = [];
  await stack?.close();
  stack = undefined;
});

async function setUp(options: Partial<ReconcilerOptions> = {}) {
  stack = await startStack();
  const s = stack;
  const renderQueue = new Queue(QUEUE_NAMES.render, queueOptions(s.redis, s.prefix));
  const pollQueue = new Queue(QUEUE_NAMES.poll, queueOptions(s.redis, s.prefix));
  const webhooks = openWebhookQueue(s.redis, s.prefix);
  closers = [renderQueue, pollQueue, webhooks.queue];
  const metrics = createMetrics({ processMetrics: false });
  const reconcilerOptions: ReconcilerOptions = {
    redis: s.redis,
    prefix: s.prefix,
    store: s.store,
    renderQueue,
    pollQueue,
    webhooks,
    logger: pino({ level: 'silent' }),
    metrics,
    staleMs: 60_000,
    ...options,
  };
  const reconciler = startReconciler(reconcilerOptions);
  reconciler.stop();
  /** A round now, as the next period's would be (the lock of the last one released). */
  const round = async () => {
    await s.redis.del(reconcilerLockKey(s.prefix));
    return reconciler.runOnce();
  };
  return { s, renderQueue, pollQueue, webhooks, metrics, round, reconcilerOptions };
}

const polling = (id: string) => ({
  name: 'polling' as const,
  request_id: `req-${id}`,
  status_url: `http://segmind.test/v2/requests/${id}/status`,
  response_url: `http://segmind.test/v2/requests/${id}`,
  submitted_at: new Date().toISOString(),
  polls: 3,
});

/** Backdates jobs' last move so the reconciler considers them. */
async function age(s: Stack, ids: readonly string[]) {
  await s.redis.zadd(unfinishedJobsKey(s.prefix), ...ids.flatMap((id) => [Date.now() - 120_000, id]));
}

async function requeuedCount(metrics: Metrics, kind: string): Promise<number> {
  const metric = await metrics.reconcilerRequeued.get();
  return metric.values.find((v) => v.labels.kind === kind)?.value ?? 0;
}

describe('the reconciler, on working jobs', () => {
  it('re-queues a polling job whose poll job was lost, and leaves a live one alone', async () => {
    const { s, pollQueue, round } = await setUp();
    const [lost, live] = (await s.createJobs([jobFor('segmind-vega', 'a'), jobFor('segmind-vega', 'b')])) as [
      string,
      string,
    ];
    for (const id of [lost, live]) {
      await s.store.transition(id, 'submit', { name: 'submitting', since: new Date().toISOString() });
      await s.store.transition(id, 'submitted', polling(id));
    }
    await age(s, [lost, live]);
    await pollQueue.add('poll', { jobId: live }, { jobId: live, delay: 60_000 });

    expect((await round()).jobs).toMatchObject({ checked: 2, requeued: 1, promoted: 0 });
    expect(['waiting', 'prioritized']).toContain(await (await pollQueue.getJob(lost))?.getState());
    expect(await (await pollQueue.getJob(live))?.getState()).toBe('delayed');
    // Checked jobs are not looked at again until they go stale again.
    expect((await round()).jobs).toMatchObject({ checked: 0, requeued: 0 });
  });

  it('re-queues a job stuck mid-submit, so the ambiguous-submit policy settles it', async () => {
    const { s, renderQueue, round } = await setUp();
    const [id] = (await s.createJobs([jobFor('segmind-vega', 'c')])) as [string];
    await s.store.transition(id, 'submit', { name: 'submitting', since: new Date().toISOString() });
    await (await renderQueue.getJob(id))?.remove();
    await age(s, [id]);
    expect((await round()).jobs.requeued).toBe(1);
    expect(['waiting', 'prioritized']).toContain(await (await renderQueue.getJob(id))?.getState());
  });

  it('promotes a delayed poll long past its time (by when it is due, not when it was created)', async () => {
    const { s, pollQueue, round } = await setUp({ staleMs: 2_000 });
    const [late, onTime] = (await s.createJobs([jobFor('segmind-vega', 'l'), jobFor('segmind-vega', 'o')])) as [
      string,
      string,
    ];
    for (const id of [late, onTime]) {
      await s.store.transition(id, 'submit', { name: 'submitting', since: new Date().toISOString() });
      await s.store.transition(id, 'submitted', polling(id));
    }
    await pollQueue.add('poll', { jobId: late }, { jobId: late, delay: 100 });
    await pollQueue.add('poll', { jobId: onTime }, { jobId: onTime, delay: 60_000 });
    // No worker promotes delayed jobs here: `late` stays delayed well past its time.
    await age(s, [late, onTime]);
    await new Promise((resolve) => setTimeout(resolve, 2_300));
    expect((await round()).jobs).toMatchObject({ checked: 2, requeued: 0, promoted: 1 });
    expect(['waiting', 'prioritized']).toContain(await (await pollQueue.getJob(late))?.getState());
    expect(await (await pollQueue.getJob(onTime))?.getState()).toBe('delayed');
  });

  it('re-queues the follow-up of a cancelled job still following its request, and forgets it once settled', async () => {
    const { s, pollQueue, metrics, round } = await setUp();
    const [lost, live] = (await s.createJobs([jobFor('segmind-vega', 'f'), jobFor('segmind-vega', 'g')])) as [
      string,
      string,
    ];
    for (const id of [lost, live]) {
      await s.store.transition(id, 'submit', { name: 'submitting', since: new Date().toISOString() });
      await s.store.transition(id, 'submitted', polling(id));
      await s.store.transition(id, 'cancel', { name: 'cancelled' });
    }
    await pollQueue.add('poll', { jobId: live }, { jobId: live, delay: 60_000 });
    await age(s, [lost, live]);
    expect((await round()).jobs).toMatchObject({ checked: 2, requeued: 1 });
    expect(['waiting', 'prioritized']).toContain(await (await pollQueue.getJob(lost))?.getState());
    expect(await requeuedCount(metrics, 'working_job')).toBe(1);
    // Settled: nothing more to follow, and the reconciler no longer looks.
    await s.store.settleCancelled((await s.store.get(lost)) as JobRecord, `req-${lost}`, 0.002);
    expect(await s.redis.zscore(unfinishedJobsKey(s.prefix), lost)).toBeNull();
    await (await pollQueue.getJob(lost))?.remove();
    await age(s, [live]);
    expect((await round()).jobs).toMatchObject({ checked: 1, requeued: 0 });
    expect(await pollQueue.getJob(lost)).toBeUndefined();
  });

  it('forgets jobs that finished', async () => {
    const { s, round } = await setUp();
    const [id] = (await s.createJobs([jobFor('segmind-vega', 'd')])) as [string];
    expect(await s.redis.zscore(unfinishedJobsKey(s.prefix), id)).not.toBeNull();
    await s.store.transition(id, 'cancel', { name: 'cancelled' });
    expect(await s.redis.zscore(unfinishedJobsKey(s.prefix), id)).toBeNull();
    // One whose record went away behind its back is dropped when found.
    await age(s, ['job_vanished']);
    expect((await round()).jobs).toMatchObject({ checked: 1, requeued: 0 });
    expect(await s.redis.zcard(unfinishedJobsKey(s.prefix))).toBe(0);
  });
});

describe('the reconciler, on queued jobs', () => {
  it('re-queues queued jobs whose BullMQ job was removed or drained, with their priority, once', async () => {
    const { s, renderQueue, metrics, round } = await setUp();
    const [single] = (await s.createJobs([jobFor('segmind-vega', 'single')])) as [string];
    const drained = await s.createJobs(Array.from({ length: 4 }, (_, i) => jobFor('segmind-vega', `drained-${i}`)));
    await (await renderQueue.getJob(single))?.remove();
    await renderQueue.drain();
    expect(await renderQueue.count()).toBe(0);
    const live = await s.createJobs([jobFor('segmind-vega', 'live-1'), jobFor('segmind-vega', 'live-2')]);
    const liveBefore = await Promise.all(live.map(async (id) => (await renderQueue.getJob(id))?.timestamp));
    await age(s, [single, ...drained, ...live]);

    expect((await round()).jobs).toMatchObject({ checked: 7, requeued: 5, promoted: 0 });
    expect(await requeuedCount(metrics, 'queued_job')).toBe(5);
    expect((await renderQueue.getJob(single))?.opts.priority).toBe(1);
    for (const id of drained) expect((await renderQueue.getJob(id))?.opts.priority).toBe(10);
    // The live ones were not added again (an add would have replaced nothing, but neither happened).
    expect(await Promise.all(live.map(async (id) => (await renderQueue.getJob(id))?.timestamp))).toEqual(liveBefore);
    expect(await renderQueue.getJobCounts('prioritized', 'waiting')).toEqual({ prioritized: 7, waiting: 0 });

    // Found again on a later round, they are live now: nothing more is added.
    await age(s, [single, ...drained, ...live]);
    expect((await round()).jobs).toMatchObject({ checked: 7, requeued: 0 });
    expect(await requeuedCount(metrics, 'queued_job')).toBe(5);
  });

  it('leaves jobs of a paused queue alone: paused jobs are still live BullMQ jobs', async () => {
    const { s, renderQueue, round } = await setUp();
    await renderQueue.pause();
    const ids = await s.createJobs(Array.from({ length: 3 }, (_, i) => jobFor('segmind-vega', `paused-${i}`)));
    await age(s, ids);
    expect((await round()).jobs).toMatchObject({ checked: 3, requeued: 0 });
    expect(await renderQueue.isPaused()).toBe(true);
  });

  it('re-queues a queued job whose BullMQ job failed (its attempts spent before it could move)', async () => {
    const { s, renderQueue, round } = await setUp();
    const [id] = (await s.createJobs([jobFor('segmind-vega', 'failed')])) as [string];
    // As a worker whose step kept throwing leaves it: the BullMQ job failed, the record still queued.
    await renderQueue.remove(id);
    await renderQueue.add(QUEUE_NAMES.render, { jobId: id }, { jobId: id, attempts: 1 });
    const token = 'test-token';
    const worker = new Worker(QUEUE_NAMES.render, null, { connection: s.redis, prefix: s.prefix, autorun: false });
    closers.push(worker);
    const active = await worker.getNextJob(token);
    expect(active?.id).toBe(id);
    await active?.moveToFailed(new Error('boom'), token);
    expect(await (await renderQueue.getJob(id))?.getState()).toBe('failed');
    await age(s, [id]);

    expect((await round()).jobs.requeued).toBe(1);
    expect(['waiting', 'prioritized']).toContain(await (await renderQueue.getJob(id))?.getState());
  });

  it('leaves a job whose creation has not settled to recoverUnenqueued, and never runs one of an uncommitted batch', async () => {
    const { s, renderQueue, round } = await setUp();
    const [creating] = (await s.createJobs([jobFor('segmind-vega', 'creating')])) as [string];
    const { batch, jobIds, enqueued } = await s.store.createBatch({ tenant: 'test' }, [
      jobFor('segmind-vega', 'uncommitted-1'),
      jobFor('segmind-vega', 'uncommitted-2'),
    ]);
    await enqueued;
    // As a creator that died before its BullMQ add leaves it: the record and its unenqueued entry.
    await renderQueue.remove(creating);
    await s.redis.zadd(unenqueuedKey(s.prefix), Date.now(), creating);
    // As a batch whose creation was cut off before the batch was committed.
    for (const id of jobIds) await renderQueue.remove(id);
    await s.redis.del(batchKey(s.prefix, batch.id));
    await age(s, [creating, ...jobIds]);

    expect((await round()).jobs).toMatchObject({ checked: 3, requeued: 0 });
    expect(await renderQueue.count()).toBe(0);
    // recoverUnenqueued settles them: the one enqueued, the others dropped.
    await s.redis.zadd(unenqueuedKey(s.prefix), 0, creating, 0, jobIds[0] as string, 0, jobIds[1] as string);
    expect(await s.store.recoverUnenqueued()).toBe(3);
    expect(await renderQueue.getJob(creating)).toBeDefined();
    expect(await s.store.get(jobIds[0] as string)).toBeUndefined();
    expect(await s.redis.zscore(unfinishedJobsKey(s.prefix), jobIds[0] as string)).toBeNull();
  });

  it('bounds a round: 5,000 waiting jobs whose BullMQ jobs are all there cost one glance each, in pipelined pages, and no add', async () => {
    const { s, round, reconcilerOptions } = await setUp({ pageSize: 1_000, maxPages: 5 });
    const { jobIds, enqueued } = await s.store.createBatch(
      { tenant: 'test' },
      Array.from({ length: 5_000 }, (_, i) => jobFor('segmind-vega', `backlog-${i}`)),
    );
    await enqueued;
    await age(s, jobIds);
    await s.redis.config('RESETSTAT');

    expect((await round()).jobs).toEqual({ checked: 5_000, pages: 5, requeued: 0, promoted: 0, expired: 0 });
    const calls = await commandCalls(s);
    // Pages, not jobs: the first page's ids, then each page's glance carries the next page's (4), and the
    // events pass's one read.
    expect(calls.zrangebyscore).toBe(1 + 4 + 1);
    // One glance per job (its record, its BullMQ hash), one mark per page; no per-job BullMQ reads, no adds.
    expect(calls.hmget).toBe(2 * 5_000);
    expect(calls.zadd).toBe(5);
    // Once a round, not per job: the passes fair share keeps (healFairShare).
    expect(calls.hgetall ?? 0).toBe(1);
    expect(calls.evalsha ?? 0).toBe(0);

    // A page limit bounds a round however long the backlog: the rest come first next time.
    await age(s, jobIds);
    const limited = startReconciler({ ...reconcilerOptions, maxPages: 2 });
    limited.stop();
    await s.redis.del(reconcilerLockKey(s.prefix));
    expect((await limited.runOnce()).jobs).toMatchObject({ checked: 2_000, pages: 2 });
    await s.redis.del(reconcilerLockKey(s.prefix));
    expect((await limited.runOnce()).jobs).toMatchObject({ checked: 2_000, pages: 2 });
    await s.redis.del(reconcilerLockKey(s.prefix));
    expect((await limited.runOnce()).jobs).toMatchObject({ checked: 1_000, pages: 1 });
  }, 60_000);
});

/** Calls per command since the last CONFIG RESETSTAT. */
async function commandCalls(s: Stack): Promise<Record<string, number>> {
  const info = await s.redis.info('commandstats');
  const calls: Record<string, number> = {};
  for (const match of info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) calls[match[1] as string] = Number(match[2]);
  return calls;
}

describe('the reconciler, on webhook events', () => {
  /** A job store that records events, as a worker's does. */
  function eventStore(s: Stack, renderQueue: Queue, webhooks: WebhookQueue): JobStore {
    return new JobStore({ redis: s.redis, queue: renderQueue, prefix: s.prefix, events: webhooks.events });
  }

  it('re-queues a pending event whose delivery job was removed, under the id its round uses, spending nothing', async () => {
    const { s, renderQueue, webhooks, metrics, round } = await setUp({ staleMs: 1_000 });
    const store = eventStore(s, renderQueue, webhooks);
    const jobs = await Promise.all(
      ['first', 'redelivered', 'delivered'].map((marker) =>
        store.create({ ...jobFor('segmind-vega', marker), webhookUrl: 'https://hooks.example/a' }),
      ),
    );
    for (const job of jobs) await complete(store, job.id);
    const [first, redelivered, delivered] = jobs.map((job) => `evt_${job.id}_completed`) as [string, string, string];
    const deliveredAttempt = {
      startedAt: Date.now(),
      durationMs: 5,
      statusCode: 200,
      outcome: 'delivered' as const,
      error: null,
      status: 'delivered' as const,
      nextAttemptAt: null,
    };
    // `redelivered` is in its second round, whose queue job is `…-r1`.
    await webhooks.events.recordAttempt(redelivered, deliveredAttempt);
    await webhooks.events.redeliver(redelivered);
    await webhooks.events.recordAttempt(delivered, deliveredAttempt);
    // Then the dashboard: every delivery job removed.
    for (const id of [first, `${redelivered}-r1`, delivered, redelivered]) await webhooks.queue.remove(id);
    expect(await webhooks.queue.count()).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 1_100));

    expect((await round()).events).toMatchObject({ checked: 2, requeued: 2, promoted: 0 });
    expect(await requeuedCount(metrics, 'webhook_event')).toBe(2);
    expect((await webhooks.queue.getJob(first))?.data).toEqual({ eventId: first });
    expect((await webhooks.queue.getJob(`${redelivered}-r1`))?.data).toEqual({ eventId: redelivered });
    expect(await webhooks.queue.getJob(delivered)).toBeUndefined();
    expect(await webhooks.queue.count()).toBe(2);
    // No round started, no attempt spent.
    expect(await webhooks.events.get(first)).toMatchObject({ status: 'pending', attempts: 0, round_attempts: 0 });
    expect(await webhooks.events.get(redelivered)).toMatchObject({ status: 'pending', attempts: 1, round_attempts: 0 });
    expect(await s.redis.hget(eventKey(s.prefix, redelivered), 'rounds')).toBe('1');

    // Their delivery jobs are live now: a later round adds nothing.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await round()).events).toMatchObject({ checked: 2, requeued: 0 });
  });

  it('promotes a delivery delayed long past its time, and leaves one waiting out a backed-off host', async () => {
    const { s, renderQueue, webhooks, round } = await setUp({ staleMs: 1_000 });
    const store = eventStore(s, renderQueue, webhooks);
    const [late, backedOff] = await Promise.all(
      ['late', 'backed-off'].map((marker) =>
        store.create({ ...jobFor('segmind-vega', marker), webhookUrl: 'https://hooks.example/a' }),
      ),
    );
    for (const job of [late, backedOff]) await complete(store, job?.id as string);
    const lateId = `evt_${late?.id}_completed`;
    const backedOffId = `evt_${backedOff?.id}_completed`;
    for (const id of [lateId, backedOffId]) await webhooks.queue.remove(id);
    await webhooks.queue.add('deliver', { eventId: lateId }, { jobId: lateId, delay: 10 });
    await webhooks.queue.add('deliver', { eventId: backedOffId }, { jobId: backedOffId, delay: 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 1_200));

    expect((await round()).events).toMatchObject({ checked: 2, requeued: 0, promoted: 1 });
    expect(await (await webhooks.queue.getJob(lateId))?.getState()).toBe('waiting');
    expect(await (await webhooks.queue.getJob(backedOffId))?.getState()).toBe('delayed');
  });
});

describe('a worker, with no one’s help', () => {
  it('completes jobs whose BullMQ jobs were removed or drained, each submitted once, and leaves a paused queue’s jobs alone', async () => {
    stack = await startStack({ latencyScale: 0.02 });
    const s = stack;
    const renderQueue = new Queue(QUEUE_NAMES.render, queueOptions(s.redis, s.prefix));
    closers = [renderQueue];
    // Before any worker runs: one job removed, the rest of the queue emptied (bull-board's "empty").
    const [single] = (await s.createJobs([jobFor('segmind-vega-rt-v1', 'removed')])) as [string];
    const drained = await s.createJobs(
      Array.from({ length: 10 }, (_, i) => jobFor('segmind-vega-rt-v1', `drained-${i}`)),
    );
    await (await renderQueue.getJob(single))?.remove();
    await renderQueue.drain();
    expect(await renderQueue.count()).toBe(0);

    const worker = await s.startWorker({ WORKER_RECONCILE_AFTER_MS: '1000' });
    const healed = await s.waitForJobs([single, ...drained], 30_000);
    expect(healed.map((record) => record.stage.name)).toEqual(Array(11).fill('completed'));
    // Each lost job was re-queued, and each re-queue was counted and said. How many rounds it took
    // depends on the machine's load (a slow round can meet a job again), so the count is not fixed.
    const requeues = () =>
      worker
        .output()
        .split('\n')
        .filter((line) => line.includes('re-queued a queued job'));
    expect(await worker.metric('renderq_reconciler_requeued_total')).toBeGreaterThanOrEqual(11);
    for (const id of [single, ...drained]) expect(requeues().some((line) => line.includes(id))).toBe(true);

    // Jobs waiting in a paused queue are live BullMQ jobs: several rounds later none was added again.
    await s.pause.pause('unauthorized', 'paused by the test');
    const paused = await s.createJobs(Array.from({ length: 3 }, (_, i) => jobFor('segmind-vega-rt-v1', `paused-${i}`)));
    const addedAt = await Promise.all(paused.map(async (id) => (await renderQueue.getJob(id))?.timestamp));
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    expect(requeues().filter((line) => paused.some((id) => line.includes(id)))).toEqual([]);
    expect(await Promise.all(paused.map(async (id) => (await renderQueue.getJob(id))?.timestamp))).toEqual(addedAt);
    await s.pause.resume();
    await s.waitForJobs(paused, 30_000);

    // Never a second submit: one per job, counted by the emulator per marker.
    const submits = s.emulator.stats().submits.byMarker;
    expect(Object.keys(submits)).toHaveLength(14);
    expect(Object.values(submits).every((n) => n === 1)).toBe(true);
  }, 90_000);
});

/** Takes a queued job to completed by the lifecycle's moves, as a worker would (nothing at Segmind). */
async function complete(store: JobStore, id: string): Promise<void> {
  const url = `https://api.segmind.com/v2/requests/req-${id}`;
  const now = new Date().toISOString();
  await store.transition(id, 'submit', { name: 'submitting', since: now });
  await store.transition(id, 'submitted', {
    name: 'polling',
    request_id: `req-${id}`,
    status_url: `${url}/status`,
    response_url: url,
    submitted_at: now,
    polls: 0,
  });
  await store.transition(id, 'result', { name: 'storing', request_id: `req-${id}`, sources: [], attempts: 0 });
  await store.transition(id, 'complete', { name: 'completed' });
}
