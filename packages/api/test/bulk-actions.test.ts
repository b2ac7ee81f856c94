// Bulk replay and cancel: the dry run's estimate is what the real replay reserves; an abort
// mid-way leaves every chosen job replayed once or untouched; two replays at once, or a replay
// taken over by another API process, replay nothing twice; tenants act only on their own jobs.
import type { ErrorCode } from '@renderq/contract';
import {
  bulkOperationKey,
  bulkOperationLeaseKey,
  bulkOperationTargetsKey,
  jobKey,
  runningBulkOperationsKey,
  tenantJobsKey,
} from '@renderq/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeApis, startApi, type TestApi } from './server.js';

const JOBS = Number(process.env.BULK_JOBS ?? 5_000);
/** acme's jobs that failed otherwise, which a filter on the error code leaves out. */
const OTHERS = 200;
/** acme's backlog quota: a replay of every failed job stops at it, waiting, until jobs finish. */
const QUOTA = Math.floor(JOBS / 2);

let api: TestApi;
let failed: string[];
let unavailable: string[];

/** Creates `count` jobs for `tenant` and fails each with `code`; their ids, oldest first. */
async function failedJobs(tenant: 'acme' | 'globex', count: number, code: ErrorCode): Promise<string[]> {
  const ids: string[] = [];
  // A batch at a time, failed before the next: the tenant's backlog quota counts unfinished jobs.
  for (let start = 0; start < count; start += 250) {
    const jobs = Array.from({ length: Math.min(250, count - start) }, (_, i) => ({
      model: 'segmind-vega',
      // Some make several images: a replay reserves its price times its images.
      input: { prompt: `job ${start + i}`, samples: 1 + ((start + i) % 3) },
    }));
    const created = await api.call('POST', '/v1/batches', { tenant, body: { jobs } });
    expect(created.status, created.text.slice(0, 300)).toBe(202);
    const batch = (created.json().jobs as { id: string }[]).map((job) => job.id);
    await Promise.all(
      batch.map(async (id) => {
        await api.start(id);
        const error = { code, message: `Segmind said no to ${id}` };
        const moved = await api.store.transition(id, 'fail_poll', { name: 'failed', error }, { error });
        expect(moved.ok).toBe(true);
      }),
    );
    ids.push(...batch);
  }
  return ids;
}

async function operationUntil(
  id: string,
  done: (op: Record<string, unknown>) => boolean,
  { via = api, tenant = 'acme' as 'acme' | 'globex' } = {},
) {
  for (let i = 0; i < 600; i++) {
    const op = (await via.call('GET', `/v1/operations/${id}`, { tenant })).json();
    if (done(op)) return op;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`operation ${id} never got there`);
}

/** Each job's `replayed_by`, and the count of jobs in the tenant's index. */
async function replayState(ids: readonly string[], tenant = 'acme') {
  const records = await api.store.getMany(ids);
  const replays = [...records.values()].map((r) => r.replayed_by).filter((id): id is string => id !== null);
  const indexed = await api.redis.zcard(tenantJobsKey(api.prefix, tenant));
  return { replays, indexed };
}

beforeAll(async () => {
  api = await startApi({ TENANT_BACKLOG_QUOTAS: `acme:${QUOTA}` });
  failed = await failedJobs('acme', JOBS, 'segmind_failed');
  unavailable = await failedJobs('acme', OTHERS, 'segmind_unavailable');
}, 240_000);
afterAll(async () => {
  await api?.close();
});

describe('bulk replay', () => {
  let estimate: number;

  it('estimates without changing anything, and chooses by status and error code', async () => {
    const asked = { filter: { status: 'failed', error_code: 'segmind_failed' }, dry_run: true };
    const dry = await api.call('POST', '/v1/jobs/replay', { body: asked });
    expect(dry.status, dry.text).toBe(200);
    const body = dry.json();
    expect(body).toMatchObject({ dry_run: true, action: 'replay', count: failed.length });
    // Price 0.002 times 1, 2 or 3 images.
    const images = failed.length + failed.reduce((sum, _, i) => sum + (i % 3), 0);
    estimate = body.estimated_cost as number;
    expect(estimate).toBeCloseTo(0.002 * images, 6);
    const untouched = await replayState(failed);
    expect(untouched).toEqual({ replays: [], indexed: JOBS + OTHERS });
  });

  it('aborted mid-way, leaves every job replayed once or untouched; the rest replayed later; reserved = estimate', async () => {
    const started = await api.call('POST', '/v1/jobs/replay', {
      body: { filter: { status: 'failed', error_code: 'segmind_failed' } },
    });
    expect(started.status, started.text).toBe(202);
    const opA = started.json();
    expect(started.headers.get('location')).toBe(`/v1/operations/${opA.id}`);
    expect(opA).toMatchObject({ status: 'running', total: failed.length, estimated_cost: estimate });
    // The quota lets QUOTA replays in; then the operation waits for room, and is aborted there.
    const waiting = await operationUntil(opA.id as string, (op) => op.acted === QUOTA && op.waiting !== null);
    expect(waiting.waiting).toMatch(/unfinished jobs/);
    const abort = await api.call('POST', `/v1/operations/${opA.id}/abort`);
    expect(abort.status, abort.text).toBe(202);
    const aborted = await operationUntil(opA.id as string, (op) => op.status === 'aborted');
    expect(aborted.acted).toBe(QUOTA);
    expect((await api.call('POST', `/v1/operations/${opA.id}/abort`)).status).toBe(409);

    const afterA = await replayState(failed);
    expect(afterA.replays).toHaveLength(QUOTA);
    expect(new Set(afterA.replays).size).toBe(QUOTA);
    // No job was made that no original names: the index holds the originals and one per replay.
    expect(afterA.indexed).toBe(JOBS + OTHERS + QUOTA);
    const replays = await api.store.getMany(afterA.replays);
    for (const [id, replay] of replays) {
      expect(replay.stage.name, id).toBe('queued');
      expect((await api.store.get(replay.replay_of as string))?.replayed_by).toBe(id);
    }
    const view = (await api.call('GET', `/v1/jobs/${afterA.replays[0]}`)).json();
    expect(view.replay_of).toMatch(/^job_/);

    // Bulk cancel of the replays frees the quota; the same replay again does the rest, and only the rest.
    const cancel = await api.call('POST', '/v1/jobs/cancel', { body: { filter: { status: 'queued' } } });
    expect(cancel.status, cancel.text).toBe(202);
    const cancelled = await operationUntil(cancel.json().id as string, (op) => op.status === 'completed');
    expect(cancelled).toMatchObject({ acted: QUOTA, skipped: 0 });
    const opB = (
      await api.call('POST', '/v1/jobs/replay', {
        body: { filter: { status: 'failed', error_code: 'segmind_failed' } },
      })
    ).json();
    const doneB = await operationUntil(opB.id as string, (op) => op.status === 'completed');
    expect(doneB).toMatchObject({ total: failed.length, acted: failed.length - QUOTA, skipped: QUOTA });

    const afterB = await replayState(failed);
    expect(new Set(afterB.replays).size).toBe(failed.length);
    expect(afterB.indexed).toBe(JOBS + OTHERS + failed.length);
    // What the replays reserve, read from their records, is the dry run's estimate, to the micro-dollar.
    const reserved = await Promise.all(
      afterB.replays.map((id) => api.redis.hget(jobKey(api.prefix, id), 'reservation_micros')),
    );
    const reservedMicros = reserved.reduce((sum, micros) => sum + Number(micros), 0);
    expect(reservedMicros).toBe(Math.round(estimate * 1_000_000));
    expect((aborted.reserved_cost as number) + (doneB.reserved_cost as number)).toBeCloseTo(estimate, 9);
    console.warn(
      `bulk replay of ${failed.length} failed jobs: estimate $${estimate.toFixed(4)}; aborted after ${aborted.acted} ` +
        `(reserved $${(aborted.reserved_cost as number).toFixed(4)}), the rest ${doneB.acted} ` +
        `(reserved $${(doneB.reserved_cost as number).toFixed(4)}); replays' own reservations $${(reservedMicros / 1e6).toFixed(4)}`,
    );

    const again = await api.call('POST', '/v1/jobs/replay', {
      body: { filter: { status: 'failed', error_code: 'segmind_failed' }, dry_run: true },
    });
    expect(again.json()).toMatchObject({ count: 0, skipped: { already_replayed: failed.length } });
    // The replays made room for no one else: cancelled, the quota is free again.
    const cancelRest = await api.call('POST', '/v1/jobs/cancel', { body: { filter: { status: 'queued' } } });
    await operationUntil(cancelRest.json().id as string, (op) => op.status === 'completed');
  }, 180_000);

  it('replays nothing twice when two replays of the same jobs run at once', async () => {
    const body = { ids: unavailable };
    const [one, two] = await Promise.all([
      api.call('POST', '/v1/jobs/replay', { body }),
      api.call('POST', '/v1/jobs/replay', { body }),
    ]);
    const ops = await Promise.all(
      [one, two].map((answer) => operationUntil(answer.json().id as string, (op) => op.status === 'completed')),
    );
    expect(ops.reduce((sum, op) => sum + (op.acted as number), 0)).toBe(unavailable.length);
    const state = await replayState(unavailable);
    expect(new Set(state.replays).size).toBe(unavailable.length);
    expect(state.indexed).toBe(JOBS + OTHERS + failed.length + unavailable.length);
  });
});

describe('bulk actions and tenancy', () => {
  it("acts only on the caller's jobs: other tenants' ids are not found, a tenant filter is for operators", async () => {
    const theirs = await api.call('POST', '/v1/jobs/cancel', {
      tenant: 'globex',
      body: { ids: failed.slice(0, 10), dry_run: true },
    });
    expect(theirs.json()).toMatchObject({ count: 0, skipped: { not_found: 10 } });
    const named = await api.call('POST', '/v1/jobs/replay', { body: { filter: { tenant: 'globex' }, dry_run: true } });
    expect(named.status).toBe(400);
    expect(named.text).toContain('filter.tenant');
    const operator = await api.call('POST', '/v1/jobs/replay', {
      tenant: 'operator',
      body: { filter: { tenant: 'acme', status: 'cancelled' }, dry_run: true },
    });
    expect(operator.json()).toMatchObject({ count: failed.length });
    const opId = (await api.call('POST', '/v1/jobs/cancel', { body: { ids: [failed[0]] } })).json().id as string;
    expect((await api.call('GET', `/v1/operations/${opId}`, { tenant: 'globex' })).status).toBe(404);
    expect((await api.call('GET', `/v1/operations/${opId}`, { tenant: 'operator' })).status).toBe(200);
    expect((await api.call('GET', `/v1/operations/${opId}`, { tenant: null })).status).toBe(401);
  });

  it('refuses a body that chooses no jobs, or both ways, or an unknown field, or a malformed id, naming it', async () => {
    for (const body of [{}, { filter: {}, ids: [failed[0]] }, { filter: { colour: 'red' } }, { ids: [] }]) {
      const answer = await api.call('POST', '/v1/jobs/replay', { body });
      expect(answer.status, JSON.stringify(body)).toBe(400);
    }
    // Not a job id: a key of another kind (a job's event stream) is never read as a job.
    const events = await api.call('POST', '/v1/jobs/replay', { body: { ids: [failed[0], `${failed[1]}:events`] } });
    expect(events.status).toBe(400);
    expect(events.json().errors).toEqual([{ path: 'body.ids.1', message: 'is not a job id (job_…)' }]);
    expect((await api.call('GET', '/v1/operations/op_nope')).status).toBe(404);
  });
});

describe('bulk operations under load', () => {
  it('runs at most 5 at once per tenant: the 6th is a 429 naming them', async () => {
    // Waiting ones: each replays a job of globex's, whose quota is full meanwhile.
    const held = await failedJobs('globex', 1, 'segmind_failed');
    const started: string[] = [];
    for (let i = 0; i < 5; i++) {
      const op = await api.call('POST', '/v1/jobs/cancel', { tenant: 'globex', body: { ids: held } });
      expect(op.status).toBe(202);
      started.push(op.json().id as string);
    }
    // Ended ones do not count: wait for the five to end, then hold five running by hand.
    for (const id of started) await operationUntil(id, (op) => op.status !== 'running', { tenant: 'globex' });
    const running = Array.from({ length: 5 }, (_, i) => `op_${String(i).padStart(26, '0')}`);
    for (const id of running) {
      await api.redis.hset(bulkOperationKey(api.prefix, id), { id, actor: 'tenant:globex', status: 'running' });
      await api.redis.set(bulkOperationLeaseKey(api.prefix, id), 'someone-else', 'PX', 60_000);
      await api.redis.sadd(runningBulkOperationsKey(api.prefix), id);
    }
    const refused = await api.call('POST', '/v1/jobs/cancel', { tenant: 'globex', body: { ids: held } });
    expect(refused.status).toBe(429);
    expect(refused.json().detail).toContain(running[0]);
    // acme is not held back by globex's.
    expect((await api.call('POST', '/v1/jobs/cancel', { body: { ids: [failed[0]] } })).status).toBe(202);
    for (const id of running) {
      await api.redis.del(bulkOperationKey(api.prefix, id), bulkOperationLeaseKey(api.prefix, id));
      await api.redis.srem(runningBulkOperationsKey(api.prefix), id);
    }
  });

  it("commits a step only for the lease's holder and only the jobs still at the list's head", async () => {
    const id = 'op_00000000000000000000000042';
    const [key, targets, lease] = [
      bulkOperationKey(api.prefix, id),
      bulkOperationTargetsKey(api.prefix, id),
      bulkOperationLeaseKey(api.prefix, id),
    ];
    await api.redis.rpush(targets, 'a', 'b', 'c');
    await api.redis.set(lease, 'runner-2');
    const commit = (owner: string, ...ids: string[]) =>
      api.redis.renderqCommitBulkStep(key, targets, lease, owner, 15_000, ids.length, 0, 0, ...ids);
    // A runner whose lease lapsed (another took over) commits nothing.
    expect(await commit('runner-1', 'a', 'b')).toBe(0);
    // The holder, for jobs no longer at the head (already committed by another), neither.
    expect(await commit('runner-2', 'b', 'c')).toBe(0);
    expect(await api.redis.lrange(targets, 0, -1)).toEqual(['a', 'b', 'c']);
    expect(await commit('runner-2', 'a', 'b')).toBe(1);
    expect(await api.redis.lrange(targets, 0, -1)).toEqual(['c']);
    expect(await api.redis.hget(key, 'processed')).toBe('2');
    await api.redis.del(key, targets, lease);
  });
});

describe('a bulk operation whose API process stops', () => {
  it('is taken over by another API process, and replays nothing twice', async () => {
    const before = await api.redis.zcard(tenantJobsKey(api.prefix, 'globex'));
    const globex = await failedJobs('globex', 600, 'segmind_failed');
    const second = await startApi(
      { TENANT_BACKLOG_QUOTAS: `acme:${QUOTA},globex:300` },
      { shareWith: { redisServer: (api as TestApi & { redisServer: never }).redisServer, prefix: api.prefix } },
    );
    try {
      const first = await startApi(
        { TENANT_BACKLOG_QUOTAS: `acme:${QUOTA},globex:300` },
        { shareWith: { redisServer: (api as TestApi & { redisServer: never }).redisServer, prefix: api.prefix } },
      );
      const op = (await first.call('POST', '/v1/jobs/replay', { tenant: 'globex', body: { ids: globex } })).json();
      await operationUntil(op.id as string, (view) => view.acted === 300 && view.waiting !== null, {
        via: first,
        tenant: 'globex',
      });
      // Its process stops: the operation's lease is let go, and the other process goes on with it.
      await first.close();
      await second.call('POST', '/v1/jobs/cancel', { tenant: 'globex', body: { filter: { status: 'queued' } } });
      const done = await operationUntil(op.id as string, (view) => view.status === 'completed', {
        via: second,
        tenant: 'globex',
      });
      expect(done.total).toBe(600);
      const state = await replayState(globex, 'globex');
      expect(new Set(state.replays).size).toBe(600);
      expect(state.indexed).toBe(before + 1_200);
    } finally {
      await closeApis([second]);
    }
  }, 120_000);
});
