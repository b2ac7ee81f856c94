// Listing a tenant's jobs from its index: newest first, paged without gaps or repeats,
// filtered while scanning with a bound on one call's work, tenants apart, expired
// records skipped and trimmed.
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { JobListFilters, JobRecord, JobStore, NewJob } from '../src/index.js';
import { jobKey, tenantJobsKey } from '../src/redis/keys.js';
import { useJobStore } from './job-store-fixture.js';

let redis: Redis;
let prefix: string;
let store: JobStore;

const job = (tenant: string, overrides: Partial<NewJob> = {}): NewJob => ({
  tenant,
  model: 'segmind-vega',
  input: { prompt: 'a lighthouse' },
  ...overrides,
});

useJobStore('list', (fixture) => {
  ({ redis, prefix, store } = fixture);
});

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every page until the list is exhausted; the ids in order, and what each call scanned. */
async function everyPage(tenant: string, filters: JobListFilters, limit: number, maxScanned?: number) {
  const ids: string[] = [];
  const scans: number[] = [];
  const sizes: number[] = [];
  let after: string | undefined;
  for (let call = 0; call < 10_000; call++) {
    const page = await store.listJobs({
      tenant,
      filters,
      limit,
      ...(after ? { after } : {}),
      ...(maxScanned ? { maxScanned } : {}),
    });
    ids.push(...page.records.map((record) => record.id));
    scans.push(page.scanned);
    sizes.push(page.records.length);
    if (page.next === null) return { ids, scans, sizes };
    after = page.next;
  }
  throw new Error('the listing never ended');
}

const newestFirst = (records: readonly JobRecord[]) =>
  [...records].sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id.localeCompare(a.id)).map((r) => r.id);

describe("listing a tenant's jobs", () => {
  it('pages newest first through every job once, single and batch jobs alike, and never another tenant’s', async () => {
    const mine: JobRecord[] = [];
    for (let i = 0; i < 12; i++) {
      mine.push(await store.create(job('acme', { metadata: { i } })));
      await store.create(job('globex'));
      if (i % 4 === 0) await pause(2);
    }
    const { jobIds } = await store.createBatch({ tenant: 'acme' }, [job('acme'), job('acme'), job('acme')]);
    for (const id of jobIds) mine.push((await store.get(id)) as JobRecord);

    const expected = newestFirst(mine);
    for (const limit of [1, 5, 7, 100]) {
      const { ids, sizes } = await everyPage('acme', {}, limit);
      expect(ids).toEqual(expected);
      expect(sizes.every((size) => size <= limit)).toBe(true);
      // No cursor leads to an empty page: 15 jobs in pages of 5 are three pages, not four.
      expect(sizes.every((size) => size > 0)).toBe(true);
    }
    // The three batch jobs were created in one millisecond, and still come once each.
    expect(new Set((await everyPage('acme', {}, 2)).ids).size).toBe(15);
    expect((await everyPage('globex', {}, 100)).ids).toHaveLength(12);
    expect((await everyPage('initech', {}, 100)).ids).toEqual([]);
  });

  it('filters by status, model, batch and creation time, and pages through the matches alone', async () => {
    const early = await store.create(job('acme'));
    await pause(5);
    const { batch, jobIds } = await store.createBatch({ tenant: 'acme' }, [job('acme'), job('acme')]);
    await pause(5);
    const other = await store.create(job('acme', { model: 'segmind-vega-rt-v1' }));
    await pause(5);
    const late = await store.create(job('acme'));
    await store.transition(late.id, 'submit', { name: 'submitting', since: new Date().toISOString() });
    await store.transition(early.id, 'cancel', { name: 'cancelled' });
    const ms = (record: JobRecord) => Date.parse(record.created_at);
    const batchJobs = newestFirst((await Promise.all(jobIds.map((id) => store.get(id)))) as JobRecord[]);

    expect((await everyPage('acme', { status: 'running' }, 10)).ids).toEqual([late.id]);
    expect((await everyPage('acme', { status: 'cancelled' }, 10)).ids).toEqual([early.id]);
    expect((await everyPage('acme', { status: 'queued' }, 1)).ids).toEqual([other.id, ...batchJobs]);
    expect((await everyPage('acme', { model: 'segmind-vega-rt-v1' }, 10)).ids).toEqual([other.id]);
    expect((await everyPage('acme', { batchId: batch.id }, 1)).ids).toEqual(batchJobs);
    expect((await everyPage('acme', { createdAfterMs: ms(early) }, 10)).ids).toEqual([late.id, other.id, ...batchJobs]);
    expect((await everyPage('acme', { createdBeforeMs: ms(other) }, 10)).ids).toEqual([...batchJobs, early.id]);
    expect(
      (await everyPage('acme', { createdAfterMs: ms(early), createdBeforeMs: ms(late), status: 'queued' }, 10)).ids,
    ).toEqual([other.id, ...batchJobs]);
    expect((await everyPage('acme', { createdAfterMs: ms(late) }, 10)).ids).toEqual([]);
    expect((await everyPage('acme', { model: 'flux' }, 10)).ids).toEqual([]);
  });

  it('bounds what one call scans: a rare match among 3,000 jobs comes through short pages that go on', async () => {
    const { jobIds } = await store.createBatch(
      { tenant: 'acme' },
      Array.from({ length: 3_000 }, () => job('acme')),
    );
    const needle = jobIds[1_234] as string;
    await store.transition(needle, 'cancel', { name: 'cancelled' });
    const { ids, scans, sizes } = await everyPage('acme', { status: 'cancelled' }, 100, 700);
    expect(ids).toEqual([needle]);
    expect(Math.max(...scans)).toBeLessThanOrEqual(700);
    // 3,000 entries at most 700 a call: five calls, most of them empty pages that say where to go on.
    expect(scans.length).toBe(5);
    expect(sizes.filter((size) => size === 0).length).toBe(4);
  });

  it('skips entries whose record has expired and drops them from the index', async () => {
    const kept = await store.create(job('acme'));
    const gone = await store.create(job('acme'));
    await redis.del(jobKey(prefix, gone.id));
    expect(await redis.zcard(tenantJobsKey(prefix, 'acme'))).toBe(2);
    expect((await everyPage('acme', {}, 10)).ids).toEqual([kept.id]);
    expect(await redis.zcard(tenantJobsKey(prefix, 'acme'))).toBe(1);
    const filteredGone = await store.create(job('acme'));
    await redis.del(jobKey(prefix, filteredGone.id));
    expect((await everyPage('acme', { status: 'queued' }, 10)).ids).toEqual([kept.id]);
    expect(await redis.zrange(tenantJobsKey(prefix, 'acme'), '0', '-1')).toEqual([expect.stringContaining(kept.id)]);
  });
});
