// What jobs cost, as the scripts keep it: a batch's cost is the sum of its jobs' costs
// (null until one is known), and a job cancelled while its request was at Segmind follows
// that request until it can record what Segmind charged, staying cancelled.
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { type CancelledRequest, type JobRecord, type JobStore, type NewJob, unfinishedJobsKey } from '../src/index.js';
import { completeQueuedJob } from './complete-job.js';
import { useJobStore } from './job-store-fixture.js';

let redis: Redis;
let prefix: string;
let store: JobStore;

const job = (): NewJob => ({ tenant: 'acme', model: 'segmind-vega', input: { prompt: 'a lighthouse' } });

useJobStore('cost', (fixture) => {
  ({ redis, prefix, store } = fixture);
});

const request = (id: string): CancelledRequest => ({
  request_id: `req-${id}`,
  status_url: `https://api.segmind.com/v2/requests/req-${id}/status`,
  response_url: `https://api.segmind.com/v2/requests/req-${id}`,
  submitted_at: new Date().toISOString(),
  polls: 0,
});

async function toPolling(id: string): Promise<CancelledRequest> {
  const polling = request(id);
  await store.transition(id, 'submit', { name: 'submitting', since: new Date().toISOString() });
  await store.transition(id, 'submitted', { name: 'polling', ...polling }, { segmind_request_id: polling.request_id });
  return polling;
}

async function completeWithCost(id: string, cost: number): Promise<void> {
  const polling = await toPolling(id);
  await store.transition(
    id,
    'result',
    { name: 'storing', request_id: polling.request_id, sources: [], attempts: 0 },
    { cost },
  );
  await store.transition(id, 'complete', { name: 'completed' });
}

describe('a batch’s cost', () => {
  it('is null until a job has a cost, then the sum of its jobs’ costs, counted once per job', async () => {
    const { batch, jobIds } = await store.createBatch({ tenant: 'acme' }, [job(), job(), job()]);
    expect(batch.cost).toBeNull();
    const [a, b, c] = jobIds as [string, string, string];
    await completeWithCost(a, 0.002);
    expect((await store.getBatch(batch.id))?.cost).toBe(0.002);
    await completeWithCost(b, 0.0035);
    expect((await store.getBatch(batch.id))?.cost).toBe(0.0055);
    // A move that sets the cost a job already has adds nothing.
    await store.transition(c, 'submit', { name: 'submitting', since: new Date().toISOString() });
    await store.transition(c, 'requeue', { name: 'queued' }, { cost: 0.001 });
    await store.transition(c, 'cancel', { name: 'cancelled' }, { cost: 0.001 });
    expect((await store.getBatch(batch.id))?.cost).toBe(0.0065);
    expect((await store.get(c))?.cost).toBe(0.001);
  });

  it('adds up exactly when 200 jobs get their costs at the same moment', async () => {
    const { batch, jobIds } = await store.createBatch(
      { tenant: 'acme' },
      Array.from({ length: 200 }, () => job()),
    );
    await Promise.all(jobIds.map((id) => completeQueuedJob(store, id, { cost: 0.0023 })));
    expect((await store.getBatch(batch.id))?.cost).toBe(0.46);
  });
});

describe('a job cancelled while its request is at Segmind', () => {
  it('keeps the request to follow, records its polls, and settles its cost once, on the job and its batch', async () => {
    const { batch, jobIds } = await store.createBatch({ tenant: 'acme' }, [job(), job()]);
    const [id, sibling] = jobIds as [string, string];
    await completeWithCost(sibling, 0.002);
    const polling = await toPolling(id);
    await store.transition(id, 'cancel', { name: 'cancelled' });
    let record = (await store.get(id)) as JobRecord;
    expect(record).toMatchObject({ stage: { name: 'cancelled' }, cost: null, cancelled_request: polling });
    // Still among the unfinished jobs, where the reconciler would find a lost follow-up.
    expect(await redis.zscore(unfinishedJobsKey(prefix), id)).not.toBeNull();

    expect(await store.followCancelled(id, { ...polling, polls: 3 }, 'poll')).toBe(true);
    expect((await store.get(id))?.cancelled_request?.polls).toBe(3);
    // Another request is not this job's.
    expect(await store.followCancelled(id, { ...request('other'), polls: 1 }, 'poll')).toBe(false);
    expect(await store.settleCancelled(record, 'req-other', 0.5)).toBe(false);

    expect(await store.settleCancelled(record, polling.request_id, 0.004)).toBe(true);
    record = (await store.get(id)) as JobRecord;
    expect(record).toMatchObject({ stage: { name: 'cancelled' }, cost: 0.004, cancelled_request: null });
    expect(await store.getBatch(batch.id)).toMatchObject({ cost: 0.006, counts: { cancelled: 1, completed: 1 } });
    expect(await redis.zscore(unfinishedJobsKey(prefix), id)).toBeNull();
    // Settled once: a second run of the step changes nothing.
    expect(await store.settleCancelled(record, polling.request_id, 0.004)).toBe(false);
    expect(await store.followCancelled(id, polling, 'poll')).toBe(false);
    expect((await store.getBatch(batch.id))?.cost).toBe(0.006);
  });

  it('follows a request whose submit answered after the cancel, once, and only for a cancelled job', async () => {
    const live = await store.create(job());
    expect(await store.followCancelled(live.id, request(live.id), 'start')).toBe(false);

    const { id } = await store.create(job());
    await store.transition(id, 'submit', { name: 'submitting', since: new Date().toISOString() });
    await store.transition(id, 'cancel', { name: 'cancelled' });
    expect((await store.get(id))?.cancelled_request).toBeNull();
    const late = request(id);
    expect(await store.followCancelled(id, late, 'start')).toBe(true);
    expect(await store.get(id)).toMatchObject({ segmind_request_id: late.request_id, cancelled_request: late });
    expect(await redis.zscore(unfinishedJobsKey(prefix), id)).not.toBeNull();
    expect(await store.followCancelled(id, request('again'), 'start')).toBe(false);
    // Settled without a cost (Segmind never said): nothing recorded, nothing followed any more.
    expect(await store.settleCancelled((await store.get(id)) as JobRecord, late.request_id, null)).toBe(true);
    expect(await store.get(id)).toMatchObject({ cost: null, cancelled_request: null, stage: { name: 'cancelled' } });
    expect(await redis.zscore(unfinishedJobsKey(prefix), id)).toBeNull();
    expect(await store.followCancelled(id, late, 'start')).toBe(false);
  });

  it('is not followed when cancelled before it reached Segmind or after its result was in hand', async () => {
    const queued = await store.create(job());
    await store.transition(queued.id, 'cancel', { name: 'cancelled' });
    const storing = await store.create(job());
    const polling = await toPolling(storing.id);
    await store.transition(
      storing.id,
      'result',
      { name: 'storing', request_id: polling.request_id, sources: [], attempts: 0 },
      { cost: 0.003 },
    );
    await store.transition(storing.id, 'cancel', { name: 'cancelled' });
    expect(await store.get(queued.id)).toMatchObject({ stage: { name: 'cancelled' }, cancelled_request: null });
    expect(await redis.zscore(unfinishedJobsKey(prefix), queued.id)).toBeNull();
    expect(await redis.zscore(unfinishedJobsKey(prefix), storing.id)).toBeNull();
    // Its cost came with its result.
    expect(await store.get(storing.id)).toMatchObject({
      stage: { name: 'cancelled' },
      cancelled_request: null,
      cost: 0.003,
    });
  });
});
