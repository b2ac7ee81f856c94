import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { JobStore, type NewJob, QUEUE_NAMES, unfinishedJobsKey } from '../src/index.js';
import { toPublicJob } from '../src/jobs/job-record.js';
import { PRIORITY, type RenderJobData } from '../src/queues.js';
import { batchKey, jobKey, unenqueuedKey } from '../src/redis/keys.js';
import { completeSubmittingJob, moveQueuedToStoring } from './complete-job.js';
import { useJobStore } from './job-store-fixture.js';

let redis: Redis;
let prefix: string;
let queue: Queue<RenderJobData>;
let store: JobStore;

const job = (overrides: Partial<NewJob> = {}): NewJob => ({
  tenant: 'acme',
  model: 'segmind-vega',
  input: { prompt: 'a lighthouse', seed: 999_999_999_999_999 },
  metadata: { order: 7 },
  ...overrides,
});

useJobStore('jobs', (fixture) => {
  ({ redis, prefix, queue, store } = fixture);
});

describe('JobStore', () => {
  it('creates a job: a record in Redis and a BullMQ job under the same id', async () => {
    const record = await store.create(job());
    expect(record.id).toMatch(/^job_[0-9a-z]{26}$/);
    expect(record.stage).toEqual({ name: 'queued' });
    const read = await store.get(record.id);
    expect(read).toEqual(record);
    // 15-digit integers survive the round trip exactly.
    expect(read?.input.seed).toBe(999_999_999_999_999);
    const queued = await queue.getJob(record.id);
    expect(queued?.data).toEqual({ jobId: record.id });
    expect(queued?.opts.priority).toBe(PRIORITY.single);
    expect(await redis.zcard(unenqueuedKey(prefix))).toBe(0);
  });

  it('reads an unknown job as undefined', async () => {
    expect(await store.get('job_00000000000000000000000000')).toBeUndefined();
  });

  it('moves a job through its stages, stamping start and finish, and shows it publicly', async () => {
    const { id } = await store.create(job());
    const submitting = await store.transition(id, 'submit', { name: 'submitting', since: new Date().toISOString() });
    expect(submitting).toEqual({ ok: true, previous: 'queued', batchFinished: false, events: [] });
    const polling = {
      name: 'polling' as const,
      request_id: 'req-1',
      status_url: 'https://api.segmind.com/v2/requests/req-1/status',
      response_url: 'https://api.segmind.com/v2/requests/req-1',
      submitted_at: new Date().toISOString(),
      polls: 0,
    };
    await store.transition(id, 'submitted', polling, { segmind_request_id: 'req-1' });
    const running = await store.get(id);
    expect(running?.stage).toEqual(polling);
    expect(running?.started_at).not.toBeNull();
    const output = {
      index: 0,
      storage_key: `p/${id}/0.png`,
      content_type: 'image/png',
      size: 10,
      sha256: 'a'.repeat(64),
    };
    await store.transition(id, 'result', { name: 'storing', request_id: 'req-1', sources: [], attempts: 0 });
    await store.transition(id, 'complete', { name: 'completed' }, { outputs: [output], cost: 0.0123 });
    const done = await store.get(id);
    expect(done).toMatchObject({
      stage: { name: 'completed' },
      outputs: [output],
      cost: 0.0123,
      segmind_request_id: 'req-1',
    });
    expect(done?.finished_at).not.toBeNull();
    const ttl = await redis.pttl(jobKey(prefix, id));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);

    const shown = toPublicJob(done!, (o) => `https://renderq.example/v1/jobs/${id}/outputs/${o.index}`);
    expect(shown).toMatchObject({ status: 'completed', metadata: { order: 7 }, batch_id: null });
    expect(shown.outputs).toEqual([
      {
        url: `https://renderq.example/v1/jobs/${id}/outputs/0`,
        storage_key: output.storage_key,
        content_type: 'image/png',
        size: 10,
        sha256: output.sha256,
      },
    ]);
    expect(shown).not.toHaveProperty('tenant');
  });

  it('refuses a move from the wrong stage and says where the job is', async () => {
    const { id } = await store.create(job());
    await store.transition(id, 'cancel', { name: 'cancelled' });
    const late = await store.transition(id, 'submit', {
      name: 'submitting',
      since: new Date().toISOString(),
    });
    expect(late).toEqual({ ok: false, reason: 'wrong_stage', current: 'cancelled' });
    expect(await store.transition('job_nope', 'cancel', { name: 'cancelled' })).toEqual({
      ok: false,
      reason: 'not_found',
    });
  });

  it('answers a replayed move as the move itself did (a reconnecting client re-sends unanswered commands)', async () => {
    const { id } = await store.create(job());
    const submitting = { name: 'submitting' as const, since: new Date().toISOString() };
    const first = await store.transition(id, 'submit', submitting, {}, 'token-1');
    const replay = await store.transition(id, 'submit', submitting, {}, 'token-1');
    expect(first).toEqual({ ok: true, previous: 'queued', batchFinished: false, events: [] });
    expect(replay).toEqual(first);
    // A different call is judged on its own.
    expect(await store.transition(id, 'submit', submitting, {}, 'token-2')).toEqual({
      ok: false,
      reason: 'wrong_stage',
      current: 'submitting',
    });
  });

  it('lets exactly one of many concurrent movers win', async () => {
    const { id } = await store.create(job());
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        store.transition(id, 'submit', { name: 'submitting', since: new Date().toISOString() }),
      ),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(1);
  });

  it('records the error of a failed job', async () => {
    const { id } = await store.create(job());
    await store.transition(id, 'fail_queued', {
      name: 'failed',
      error: { code: 'segmind_rejected', message: 'bad model' },
    });
    expect(await store.get(id)).toMatchObject({
      error: { code: 'segmind_rejected', message: 'bad model' },
      stage: { name: 'failed' },
    });
  });

  describe('batches', () => {
    it('creates a batch in chunks, lists its jobs in order, and keeps counts', async () => {
      const chunked = new JobStore({ redis, queue, prefix, chunkSize: 7 });
      const jobs = Array.from({ length: 30 }, (_, i) => job({ metadata: { i } }));
      const { batch, jobIds, enqueued } = await chunked.createBatch(
        { tenant: 'acme', metadata: { run: 'nightly' } },
        jobs,
      );
      await enqueued;
      expect(batch).toMatchObject({
        status: 'running',
        metadata: { run: 'nightly' },
        counts: { total: 30, queued: 30, running: 0 },
      });
      expect(await queue.count()).toBe(30);
      expect((await queue.getJob(jobIds[0]!))?.opts.priority).toBe(PRIORITY.batch);
      const listed = [];
      for await (const record of chunked.batchJobs(batch.id, 8)) listed.push(record);
      expect(listed.map((r) => r.id)).toEqual(jobIds);
      expect(listed.map((r) => r.metadata?.i)).toEqual(jobs.map((_, i) => i));
      expect(listed.every((r) => r.batch_id === batch.id)).toBe(true);
    });

    it('finishes a batch exactly once, when its last job finishes, whatever the outcomes', async () => {
      const { batch, jobIds } = await store.createBatch({ tenant: 'acme' }, [job(), job(), job()]);
      const [a, b, c] = jobIds as [string, string, string];
      await store.transition(a, 'submit', { name: 'submitting', since: new Date().toISOString() });
      expect((await store.getBatch(batch.id))?.counts).toMatchObject({ queued: 2, running: 1 });
      expect(await completeSubmittingJob(store, a)).toMatchObject({ batchFinished: false });
      expect(await store.transition(b, 'cancel', { name: 'cancelled' })).toMatchObject({ batchFinished: false });
      const last = await store.transition(c, 'fail_queued', {
        name: 'failed',
        error: { code: 'timeout', message: 'deadline' },
      });
      expect(last).toMatchObject({ ok: true, batchFinished: true });
      const finished = await store.getBatch(batch.id);
      expect(finished).toMatchObject({
        status: 'completed',
        counts: { total: 3, queued: 0, running: 0, completed: 1, failed: 1, cancelled: 1 },
      });
      expect(finished?.finished_at).not.toBeNull();
    });

    it('reports a finished batch none of whose jobs completed as failed', async () => {
      const fail = { name: 'failed', error: { code: 'timeout', message: 'deadline' } } as const;
      const { batch, jobIds } = await store.createBatch({ tenant: 'acme' }, [job(), job()]);
      const [a, b] = jobIds as [string, string];
      await store.transition(a, 'fail_queued', fail);
      expect((await store.getBatch(batch.id))?.status).toBe('running');
      await store.transition(b, 'fail_queued', fail);
      expect(await store.getBatch(batch.id)).toMatchObject({
        status: 'failed',
        counts: { total: 2, completed: 0, failed: 2 },
      });
      // Failed and cancelled one by one, nothing completed: failed too.
      const mixed = await store.createBatch({ tenant: 'acme' }, [job(), job()]);
      await store.transition(mixed.jobIds[0] as string, 'cancel', { name: 'cancelled' });
      await store.transition(mixed.jobIds[1] as string, 'fail_queued', fail);
      expect((await store.getBatch(mixed.batch.id))?.status).toBe('failed');
    });

    it('decides the finish atomically when the last jobs finish at the same moment', async () => {
      for (let run = 0; run < 10; run++) {
        const { jobIds } = await store.createBatch({ tenant: 'acme' }, [job(), job()]);
        for (const id of jobIds) await moveQueuedToStoring(store, id);
        const results = await Promise.all(jobIds.map((id) => store.transition(id, 'complete', { name: 'completed' })));
        expect(results.filter((r) => r.ok && r.batchFinished)).toHaveLength(1);
      }
    });
  });

  describe('crash safety', () => {
    it('enqueues a job whose creator died between recording and enqueueing', async () => {
      // What a crash leaves: the record and its pending entry, no BullMQ job.
      const { id } = await store.create(job());
      await (await queue.getJob(id))?.remove();
      await redis.zadd(unenqueuedKey(prefix), Date.now() - 60_000, id);
      expect(await queue.getJob(id)).toBeUndefined();
      expect(await store.recoverUnenqueued(30_000)).toBe(1);
      expect((await queue.getJob(id))?.data).toEqual({ jobId: id });
      expect(await redis.zcard(unenqueuedKey(prefix))).toBe(0);
    });

    it('leaves recent creations alone (their creator may still be enqueueing)', async () => {
      const { id } = await store.create(job());
      await redis.zadd(unenqueuedKey(prefix), Date.now(), id);
      expect(await store.recoverUnenqueued(30_000)).toBe(0);
    });

    it('drops the jobs of a batch whose creation never committed, so they never run', async () => {
      const { batch, jobIds, enqueued } = await store.createBatch({ tenant: 'acme' }, [job(), job()]);
      await enqueued;
      for (const id of jobIds) {
        await (await queue.getJob(id))?.remove();
        await redis.zadd(unenqueuedKey(prefix), 0, id);
      }
      await redis.del(batchKey(prefix, batch.id));
      const counted = await store.unfinishedJobsOf('acme');
      expect(await store.recoverUnenqueued()).toBe(2);
      expect(await queue.count()).toBe(0);
      expect(await store.get(jobIds[0]!)).toBeUndefined();
      // Off its tenant's backlog count, once however often recovery meets them.
      expect(await store.unfinishedJobsOf('acme')).toBe(counted - 2);
      for (const id of jobIds) await redis.zadd(unenqueuedKey(prefix), 0, id);
      await store.recoverUnenqueued();
      expect(await store.unfinishedJobsOf('acme')).toBe(counted - 2);
    });

    it('does not run again a job that already finished', async () => {
      const { id } = await store.create(job());
      await store.transition(id, 'cancel', { name: 'cancelled' });
      await (await queue.getJob(id))?.remove();
      await redis.zadd(unenqueuedKey(prefix), 0, id);
      await store.recoverUnenqueued();
      expect(await queue.getJob(id)).toBeUndefined();
    });
  });

  describe("each tenant's backlog (what its quota counts)", () => {
    it('counts a job from its recording to its final move, and is tidied of jobs that left another way', async () => {
      const tenant = `tidy-${Date.now()}`;
      const [a, b, c] = await Promise.all([1, 2, 3].map(() => store.create(job({ tenant }))));
      expect(await store.unfinishedJobsOf(tenant)).toBe(3);
      await store.transition(a!.id, 'cancel', { name: 'cancelled' });
      expect(await store.unfinishedJobsOf(tenant)).toBe(2);
      // Finished by a worker of a version before quotas: off the unfinished jobs, never off the backlog.
      await redis
        .multi()
        .zrem(unfinishedJobsKey(prefix), b!.id)
        .hset(jobKey(prefix, b!.id), 'stage', 'completed')
        .exec();
      expect(await store.unfinishedJobsOf(tenant)).toBe(2);
      expect(await store.tidyBacklogs()).toBeGreaterThanOrEqual(1);
      expect(await store.unfinishedJobsOf(tenant)).toBe(1);
      expect(await store.get(c!.id)).toMatchObject({ stage: { name: 'queued' } });
      expect((await store.unfinishedJobsByTenant()).get(tenant)).toBe(1);
    });
  });

  describe('the unfinished jobs index (what the reconciler walks)', () => {
    it('holds every unfinished job, queued or working, scored by its last move; a final move drops it', async () => {
      const index = unfinishedJobsKey(prefix);
      const { id } = await store.create(job());
      const created = Number(await redis.zscore(index, id));
      expect(created).toBeGreaterThan(Date.now() - 5_000);
      await new Promise((resolve) => setTimeout(resolve, 5));
      await store.transition(id, 'submit', { name: 'submitting', since: new Date().toISOString() });
      const submitting = Number(await redis.zscore(index, id));
      expect(submitting).toBeGreaterThan(created);
      // Back to queued (a submit that must wait): still unfinished.
      await store.transition(id, 'requeue', { name: 'queued' });
      expect(Number(await redis.zscore(index, id))).toBeGreaterThanOrEqual(submitting);
      await store.transition(id, 'cancel', { name: 'cancelled' });
      expect(await redis.zscore(index, id)).toBeNull();

      const { jobIds, enqueued } = await store.createBatch({ tenant: 'acme' }, [job(), job(), job()]);
      await enqueued;
      const scores = await Promise.all(jobIds.map((jobId) => redis.zscore(index, jobId)));
      expect(scores.every((score) => score !== null)).toBe(true);
    });

    it('hands out jobs unmoved for a while a page at a time, with their BullMQ jobs at a glance, marked checked', async () => {
      const index = unfinishedJobsKey(prefix);
      const [live, removed, delayed] = await Promise.all([
        store.create(job()),
        store.create(job()),
        store.create(job()),
      ]);
      const fresh = await store.create(job());
      await (await queue.getJob(removed!.id))?.remove();
      await queue.remove(delayed!.id);
      await queue.add(QUEUE_NAMES.render, { jobId: delayed!.id }, { jobId: delayed!.id, delay: 60_000 });
      const ids = [live!.id, removed!.id, delayed!.id];
      await redis.zadd(index, ...ids.flatMap((id) => [Date.now() - 120_000, id]));
      await redis.zadd(index, Date.now() - 120_000, 'job_gone');

      const pages = [];
      for await (const page of store.unfinishedJobsToCheck(60_000, { pageSize: 2 })) pages.push(page);
      expect(pages.map((page) => page.length)).toEqual([2, 2]);
      const glances = new Map(pages.flat().map((glance) => [glance.id, glance]));
      expect(glances.has(fresh.id)).toBe(false);
      expect(glances.get(live!.id)).toMatchObject({
        stage: 'queued',
        priority: PRIORITY.single,
        batchId: null,
        render: { presence: 'present', dueAt: null },
      });
      expect(glances.get(removed!.id)?.render).toEqual({ presence: 'missing', dueAt: null });
      const due = glances.get(delayed!.id)?.render.dueAt ?? 0;
      expect(due).toBeGreaterThan(Date.now() + 50_000);
      expect(glances.get('job_gone')).toMatchObject({ stage: undefined, render: { presence: 'missing' } });
      // Marked checked: not handed out again until another 60 s without a move.
      for (const id of ids) expect(Number(await redis.zscore(index, id))).toBeGreaterThan(Date.now() - 5_000);
      const again = [];
      for await (const page of store.unfinishedJobsToCheck(60_000)) again.push(page);
      expect(again).toEqual([]);

      // At most maxPages pages a call; the rest come first next time.
      await redis.zadd(index, ...ids.flatMap((id) => [Date.now() - 120_000, id]));
      let handedOut = 0;
      for await (const page of store.unfinishedJobsToCheck(60_000, { pageSize: 1, maxPages: 2 }))
        handedOut += page.length;
      expect(handedOut).toBe(2);
      await store.forgetUnfinished(['job_gone']);
      expect(await redis.zscore(index, 'job_gone')).toBeNull();
    });
  });
});
