// Fair share between tenants (fair-share.ts): jobs wait in their tenant's ready set and are
// released to the render queue in stride-scheduling order — by weight while several tenants
// wait, newcomers next, a tenant's own jobs by priority — and every step survives a crash.
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { type JobStore, type NewJob, weightsOf } from '../src/index.js';
import type { RenderJobData } from '../src/queues.js';
import {
  fairPassesKey,
  fairReadyKey,
  fairReleasedKey,
  fairStateKey,
  fairTenantsKey,
  unenqueuedKey,
  unfinishedJobsKey,
} from '../src/redis/keys.js';
import { useJobStore } from './job-store-fixture.js';

let redis: Redis;
let prefix: string;
let queue: Queue<RenderJobData>;
let store: JobStore;

useJobStore(
  'fair',
  (fixture) => {
    ({ redis, prefix, queue, store } = fixture);
  },
  { fairShare: true },
);

const job = (tenant: string, overrides: Partial<NewJob> = {}): NewJob => ({
  tenant,
  model: 'segmind-vega',
  input: { prompt: 'a lighthouse' },
  ...overrides,
});

async function batchOf(tenant: string, jobs: number): Promise<string[]> {
  const created = await store.createBatch(
    { tenant },
    Array.from({ length: jobs }, () => job(tenant)),
  );
  await created.enqueued;
  return created.jobIds;
}

/** Releases up to `ahead` jobs, then takes them off the render queue as workers would. */
async function releaseNext(ahead: number, weights: Record<string, number> = {}): Promise<string[]> {
  const ids = await store.releaseFairShare(ahead, weightsOf(weights));
  await queue.drain();
  return ids;
}

/** Releases `jobs` a few at a time (as the worker's loop does) and counts them by tenant. */
async function release(jobs: number, weights: Record<string, number> = {}): Promise<Map<string, number>> {
  const byTenant = new Map<string, number>();
  const tenantOf = new Map<string, string>();
  for (let released = 0; released < jobs; ) {
    const ids = await releaseNext(Math.min(3, jobs - released), weights);
    if (ids.length === 0) break;
    for (const id of ids) {
      const tenant = tenantOf.get(id) ?? (await store.get(id))?.tenant ?? '?';
      byTenant.set(tenant, (byTenant.get(tenant) ?? 0) + 1);
    }
    released += ids.length;
  }
  return byTenant;
}

describe('fair share', () => {
  it('keeps new jobs off the render queue until released, then adds them without a priority', async () => {
    const record = await store.create(job('acme', { priority: 3 }));
    expect(await queue.getJob(record.id)).toBeUndefined();
    expect(await redis.zscore(fairReadyKey(prefix, 'acme'), record.id)).not.toBeNull();
    expect(await redis.zcard(unenqueuedKey(prefix))).toBe(0);
    expect(await store.waitingForShareOf('acme')).toBe(1);

    expect(await store.releaseFairShare(5, weightsOf({}))).toEqual([record.id]);
    const added = await queue.getJob(record.id);
    expect(added?.data).toEqual({ jobId: record.id });
    expect(added?.opts.priority ?? 0).toBe(0);
    expect(await redis.zcard(fairReleasedKey(prefix))).toBe(0);
    // A tenant with nothing left waiting leaves the tenants being served.
    expect(await redis.zcard(fairTenantsKey(prefix))).toBe(0);
  });

  it('serves backlogged tenants equally, however many batches one of them splits its work into', async () => {
    for (let i = 0; i < 10; i++) await batchOf('heavy', 20);
    await batchOf('light', 50);
    const served = await release(60);
    expect(served.get('heavy')).toBe(30);
    expect(served.get('light')).toBe(30);
  });

  it('serves tenants in proportion to their weights while both wait', async () => {
    await batchOf('a', 200);
    await batchOf('b', 200);
    const served = await release(100, { a: 3 });
    expect(served.get('a')).toBeGreaterThanOrEqual(74);
    expect(served.get('a')).toBeLessThanOrEqual(76);
    expect((served.get('a') ?? 0) + (served.get('b') ?? 0)).toBe(100);
  });

  it('serves a newcomer next, and banks an idle tenant nothing', async () => {
    await batchOf('heavy', 100);
    await release(40);
    const single = await store.create(job('light'));
    expect(await releaseNext(1)).toEqual([single.id]);
    // Having waited while idle earns the light tenant no run of its own: it alternates with heavy.
    await batchOf('light', 10);
    const served = await release(10);
    expect(served.get('light')).toBe(5);
    expect(served.get('heavy')).toBe(5);
  });

  it('gives a tenant that keeps one job waiting at a time its turn, not every turn', async () => {
    await batchOf('heavy', 200);
    const served = new Map<string, number>();
    // "sly" posts its next job the moment its last one is released, so it always has exactly one waiting.
    await store.create(job('sly'));
    for (let i = 0; i < 40; i++) {
      for (const id of await releaseNext(1)) {
        const tenant = (await store.get(id))?.tenant ?? '?';
        served.set(tenant, (served.get(tenant) ?? 0) + 1);
        if (tenant === 'sly') await store.create(job('sly'));
      }
    }
    expect(served.get('sly')).toBe(20);
    expect(served.get('heavy')).toBe(20);
  });

  it('does not enter a job cancelled before it entered', async () => {
    const [first] = await store.createBatch({ tenant: 'acme' }, [job('acme')]).then(async (created) => {
      await created.enqueued;
      return created.jobIds;
    });
    // As if the job were cancelled between its record and its entry (a batch cancelled at once).
    await redis.zrem(fairReadyKey(prefix, 'acme'), first as string);
    await store.transition(first as string, 'cancel', { name: 'cancelled' });
    await redis.zadd(unenqueuedKey(prefix), 0, first as string);
    const entered = await redis.renderqEnterFairQueue(
      6,
      unenqueuedKey(prefix),
      unfinishedJobsKey(prefix),
      fairTenantsKey(prefix),
      fairStateKey(prefix),
      fairPassesKey(prefix),
      fairReadyKey(prefix, 'acme'),
      JSON.stringify([first, 'acme', '10']),
    );
    expect(entered).toBe(0);
    expect(await redis.zcard(fairReadyKey(prefix, 'acme'))).toBe(0);
    expect(await redis.zcard(unenqueuedKey(prefix))).toBe(0);
  });

  it('puts back a tenant whose jobs wait without it among those served, and forgets passed passes', async () => {
    await batchOf('acme', 3);
    await redis.del(fairTenantsKey(prefix));
    await redis.hset(fairPassesKey(prefix), 'long-gone', '-1');
    expect(await releaseNext(5)).toEqual([]);
    expect(await store.healFairShare()).toBe(1);
    expect(await redis.hexists(fairPassesKey(prefix), 'long-gone')).toBe(0);
    expect(await releaseNext(5)).toHaveLength(3);
  });

  it("orders a tenant's own jobs by priority, then by arrival", async () => {
    const batch = await batchOf('acme', 3);
    const urgent = await store.create(job('acme', { priority: 1 }));
    expect(await releaseNext(10)).toEqual([urgent.id, ...batch]);
  });

  it('takes a job cancelled while waiting out of its ready set, charging its tenant nothing', async () => {
    const [first, second] = await batchOf('acme', 2);
    await store.transition(first as string, 'cancel', { name: 'cancelled' });
    await store.transition(second as string, 'cancel', { name: 'cancelled' });
    expect(await redis.zcard(fairReadyKey(prefix, 'acme'))).toBe(0);
    const other = await store.create(job('globex'));
    expect(await releaseNext(5)).toEqual([other.id]);
    expect(await redis.zcard(fairTenantsKey(prefix))).toBe(0);
  });

  it('releases only what tops the render queue up to the jobs it should hold, counted in the same step', async () => {
    const ids = await batchOf('acme', 10);
    expect(await store.releaseFairShare(3, weightsOf({}))).toEqual(ids.slice(0, 3));
    // Three wait on the render queue already: nothing more, however often it is asked.
    expect(await store.releaseFairShare(3, weightsOf({}))).toEqual([]);
    expect(await store.releaseFairShare(5, weightsOf({}))).toEqual(ids.slice(3, 5));
    expect(await queue.getWaitingCount()).toBe(5);
  });

  it('enters a job once, however often entering it is repeated', async () => {
    const record = await store.create(job('acme'));
    await redis.zadd(unenqueuedKey(prefix), 0, 'job_not_recorded');
    // Recovery finds nothing of the entered job among the unenqueued: it is not entered again.
    await store.recoverUnenqueued(0);
    expect(await redis.zcard(fairReadyKey(prefix, 'acme'))).toBe(1);
    expect(await releaseNext(5)).toEqual([record.id]);
    expect(await releaseNext(5)).toEqual([]);
  });

  it('recovers a job whose creator died before entering it, and one whose releaser died before its add', async () => {
    // Recorded, never entered: what a creator that died after the create script leaves.
    const [recorded] = await store.createBatch({ tenant: 'acme' }, [job('acme')]).then(async (created) => {
      await created.enqueued;
      return created.jobIds;
    });
    await redis.zrem(fairReadyKey(prefix, 'acme'), recorded as string);
    await redis.zrem(fairTenantsKey(prefix), 'acme');
    await redis.zadd(unenqueuedKey(prefix), 0, recorded as string);
    expect(await store.recoverUnenqueued(0)).toBe(1);
    expect(await redis.zscore(fairReadyKey(prefix, 'acme'), recorded as string)).not.toBeNull();

    // Released by the script, never added: what a releaser that died in between leaves.
    const released = await redis.renderqReleaseFairShare(
      8,
      fairTenantsKey(prefix),
      fairStateKey(prefix),
      fairReleasedKey(prefix),
      fairPassesKey(prefix),
      queue.keys.wait as string,
      queue.keys.active as string,
      queue.keys.prioritized as string,
      fairReadyKey(prefix, 'acme'),
      '0',
      '1',
      'acme',
      '1',
    );
    expect(released).toEqual([recorded]);
    expect(await queue.getJob(recorded as string)).toBeUndefined();
    // The reconciler leaves it alone meanwhile: its add is recovery's.
    const glance = [{ id: recorded as string, batchId: null, tenant: 'acme' }];
    expect(await store.creationUnsettled(glance)).toEqual(new Set([recorded]));
    await store.recoverReleased(0);
    expect(await queue.getJob(recorded as string)).toBeDefined();
    expect(await store.creationUnsettled(glance)).toEqual(new Set());
  });

  it('lists the tenants waiting, next served first', async () => {
    await batchOf('a', 4);
    await batchOf('b', 2);
    await releaseNext(1);
    const tenants = await store.fairTenants();
    expect(tenants.map((t) => [t.tenant, t.waiting])).toEqual([
      ['b', 2],
      ['a', 3],
    ]);
  });
});
