// Where a job stands: its place among its tenant's queued jobs, and when it should start and finish
// from its tenant's share of the submit rate the workers note and the model's recent latencies.
import { modelLatencyKey, submitRateKey } from '@renderq/shared';
import type { RedisHandle } from '@renderq/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type TestApi, VEGA } from './server.js';

interface View {
  id: string;
  status: string;
  queue_position: number | null;
  estimated_start_at: string | null;
  estimated_finish_at: string | null;
}

/** Estimates reuse what every job needs for a second: a test that changes it waits that out. */
const REUSE_MS = 1_100;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('queue positions and estimates', () => {
  let api: TestApi & { redisServer: RedisHandle };
  beforeAll(async () => {
    api = await startApi();
  });
  afterAll(async () => api?.close());

  const create = async (tenant: 'acme' | 'globex') =>
    (await api.call('POST', '/v1/jobs', { body: VEGA, tenant })).json() as unknown as View;
  const view = async (id: string, tenant: 'acme' | 'globex' = 'acme') =>
    (await api.call('GET', `/v1/jobs/${id}`, { tenant })).json() as unknown as View;
  const noteRate = (perSecond: number, { heldForMs = 0, learned = true } = {}) =>
    api.redis.set(
      submitRateKey(api.prefix),
      JSON.stringify({ per_second: perSecond, learned, held_until: heldForMs > 0 ? Date.now() + heldForMs : 0 }),
    );

  it("places queued jobs in their tenant's order and times them by its share of the submit rate", async () => {
    const created = [];
    for (let i = 0; i < 4; i++) created.push(await create('acme'));
    // No worker has noted a rate yet: places, but no times.
    expect(created.map((job) => job.queue_position)).toEqual([0, 1, 2, 3]);
    expect(created.every((job) => job.estimated_start_at === null && job.estimated_finish_at === null)).toBe(true);
    // A rate still being sought (Segmind's limit not yet learned) tells nothing either.
    await noteRate(20, { learned: false });
    await sleep(REUSE_MS);
    expect((await view(created[0]?.id ?? '')).estimated_start_at).toBeNull();

    await noteRate(2);
    await api.redis.rpush(modelLatencyKey(api.prefix, 'segmind-vega'), '4000', '6000', '5000');
    await sleep(REUSE_MS);
    const alone = await Promise.all(created.map((job) => view(job.id)));
    expect(alone.map((job) => job.queue_position)).toEqual([0, 1, 2, 3]);
    const starts = alone.map((job) => Date.parse(job.estimated_start_at ?? ''));
    // Alone, acme has all 2 submits a second: each job half a second after the one before it.
    for (let i = 1; i < starts.length; i++) {
      // Each view is its own request, a moment apart: what they say of the next job is what they say of time.
      expect((starts[i] as number) - (starts[i - 1] as number)).toBeGreaterThanOrEqual(400);
      expect((starts[i] as number) - (starts[i - 1] as number)).toBeLessThanOrEqual(700);
    }
    expect((starts[0] as number) - Date.now()).toBeLessThanOrEqual(600);
    // Finish: the start plus the model's median latency.
    for (const job of alone) {
      expect(Date.parse(job.estimated_finish_at ?? '') - Date.parse(job.estimated_start_at ?? '')).toBe(5000);
    }

    // A second tenant waiting halves acme's share: a second a job. Its own job is first in its share.
    const other = await create('globex');
    expect(other.queue_position).toBe(0);
    await sleep(REUSE_MS);
    const shared = await Promise.all(created.map((job) => view(job.id)));
    const sharedStarts = shared.map((job) => Date.parse(job.estimated_start_at ?? ''));
    for (let i = 1; i < sharedStarts.length; i++) {
      expect((sharedStarts[i] as number) - (sharedStarts[i - 1] as number)).toBeGreaterThanOrEqual(900);
      expect((sharedStarts[i] as number) - (sharedStarts[i - 1] as number)).toBeLessThanOrEqual(1200);
    }

    // The list shows the same places, in one round trip for the page.
    const page = (await api.call('GET', '/v1/jobs?status=queued&limit=10')).json() as unknown as { jobs: View[] };
    expect(new Map(page.jobs.map((job) => [job.id, job.queue_position]))).toEqual(
      new Map(created.map((job, i) => [job.id, i])),
    );

    // While a 429 holds every submit, no start can be told.
    await noteRate(2, { heldForMs: 30_000 });
    await sleep(REUSE_MS);
    expect(await view(created[0]?.id ?? '')).toMatchObject({ queue_position: 0, estimated_start_at: null });

    // Started: no place; the finish is the submit plus the median latency. Finished: nothing.
    const first = created[0]?.id ?? '';
    await api.start(first);
    const running = await view(first);
    expect(running).toMatchObject({ status: 'running', queue_position: null, estimated_start_at: null });
    expect(Date.parse(running.estimated_finish_at ?? '')).toBeGreaterThan(Date.now() + 3_000);
    await api.complete(first);
    expect(await view(first)).toMatchObject({
      status: 'completed',
      queue_position: null,
      estimated_start_at: null,
      estimated_finish_at: null,
    });
  }, 30_000);
});

describe('queue positions without fair share', () => {
  let api: TestApi & { redisServer: RedisHandle };
  beforeAll(async () => {
    api = await startApi({ FAIR_SHARE: 'false' });
  });
  afterAll(async () => api?.close());

  it("shows no place: it would count other tenants' jobs", async () => {
    await api.call('POST', '/v1/jobs', { body: VEGA, tenant: 'globex' });
    const job = (await api.call('POST', '/v1/jobs', { body: VEGA })).json();
    expect(job).toMatchObject({ status: 'queued', queue_position: null, estimated_start_at: null });
  });
});
