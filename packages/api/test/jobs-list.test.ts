// GET /v1/jobs against a running server and real Redis: the tenant's jobs newest first,
// filtered, paged by an opaque cursor that cannot be reused with other filters.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type TestApi, VEGA } from './server.js';

let api: TestApi;
beforeAll(async () => {
  api = await startApi();
});
afterAll(() => api?.close());

interface Page {
  jobs: { id: string; status: string; model: string; batch_id: string | null; created_at: string }[];
  next_cursor: string | null;
}

const RT = { model: 'segmind-vega-rt-v1', input: { prompt: 'a harbour' } };
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function page(query: string, tenant: 'acme' | 'globex' = 'acme'): Promise<Page> {
  const answer = await api.call('GET', `/v1/jobs${query}`, { tenant });
  expect(answer.status, answer.text).toBe(200);
  return answer.json() as unknown as Page;
}

/** Follows next_cursor to the end (repeating the filters, or not), returning every id. */
async function all(query: string, { repeatFilters = true, tenant = 'acme' as 'acme' | 'globex' } = {}) {
  const ids: string[] = [];
  let current = await page(`?${query}`, tenant);
  for (;;) {
    ids.push(...current.jobs.map((job) => job.id));
    if (current.next_cursor === null) return ids;
    const base = repeatFilters ? query : (query.match(/limit=\d+/)?.[0] ?? '');
    current = await page(`?${base}&cursor=${encodeURIComponent(current.next_cursor)}`, tenant);
  }
}

let singles: string[];
let batchId: string;
let batchJobs: string[];
let other: string;
let cancelled: string;

beforeAll(async () => {
  singles = [];
  for (let i = 0; i < 6; i++) {
    singles.push(((await api.call('POST', '/v1/jobs', { body: VEGA })).json() as { id: string }).id);
    await pause(3);
  }
  const batch = (await api.call('POST', '/v1/batches', { body: { jobs: [VEGA, VEGA, VEGA] } })).json() as {
    id: string;
    jobs: { index: number; id: string }[];
  };
  batchId = batch.id;
  batchJobs = batch.jobs.map((job) => job.id);
  await pause(3);
  other = ((await api.call('POST', '/v1/jobs', { body: RT })).json() as { id: string }).id;
  await pause(3);
  cancelled = ((await api.call('POST', '/v1/jobs', { body: VEGA })).json() as { id: string }).id;
  await api.call('POST', `/v1/jobs/${cancelled}/cancel`);
  await api.call('POST', '/v1/jobs', { body: VEGA, tenant: 'globex' });
});

describe('GET /v1/jobs', () => {
  it("lists the tenant's jobs newest first, as jobs, a page at a time, without gaps or repeats", async () => {
    const first = await page('?limit=4');
    expect(first.jobs.map((job) => job.id).slice(0, 2)).toEqual([cancelled, other]);
    expect(first.jobs[0]).toMatchObject({ id: cancelled, status: 'cancelled', model: 'segmind-vega', outputs: [] });
    expect(first.next_cursor).toEqual(expect.any(String));
    const ids = await all('limit=4');
    expect(ids).toHaveLength(11);
    expect(new Set(ids).size).toBe(11);
    expect(ids.slice(0, 2)).toEqual([cancelled, other]);
    expect(new Set(ids.slice(2, 5))).toEqual(new Set(batchJobs));
    expect(ids.slice(5)).toEqual([...singles].reverse());
    const times = (await page('?limit=1000')).jobs.map((job) => job.created_at);
    expect([...times].sort().reverse()).toEqual(times);
    expect((await page('')).jobs).toHaveLength(11);
  });

  it('filters by status, model, batch and creation time, and pages through the matches', async () => {
    expect(await all('status=cancelled')).toEqual([cancelled]);
    expect(await all('model=segmind-vega-rt-v1')).toEqual([other]);
    expect(new Set(await all(`batch_id=${batchId}&limit=1`))).toEqual(new Set(batchJobs));
    expect(await all('status=queued&model=segmind-vega&limit=2')).toHaveLength(9);
    const job = async (id: string) => (await api.call('GET', `/v1/jobs/${id}`)).json() as { created_at: string };
    const { created_at: otherAt } = await job(other);
    const { created_at: firstAt } = await job(singles[0] as string);
    expect(await all(`created_after=${otherAt}`)).toEqual([cancelled]);
    expect(await all(`created_after=${firstAt}&created_before=${otherAt}&limit=2`)).toHaveLength(
      batchJobs.length + singles.length - 1,
    );
    // An offset is a time like any other.
    const shifted = new Date(Date.parse(otherAt) + 2 * 3600_000).toISOString().replace('Z', '+02:00');
    expect(await all(`created_after=${encodeURIComponent(shifted)}`)).toEqual([cancelled]);
  });

  it('continues a listing from its cursor alone, its filters carried in it', async () => {
    expect(await all('model=segmind-vega&limit=3', { repeatFilters: false })).toHaveLength(10);
    expect(await all(`batch_id=${batchId}&limit=1`, { repeatFilters: false })).toHaveLength(3);
  });

  it('never shows another tenant’s jobs', async () => {
    const globex = await all('limit=1000', { tenant: 'globex' });
    expect(globex).toHaveLength(1);
    expect(globex).not.toContain(cancelled);
    expect(await all(`batch_id=${batchId}`, { tenant: 'globex' })).toEqual([]);
    // A cursor of acme's listing, in globex's hands, lists globex's jobs only.
    const { next_cursor } = await page('?limit=1');
    const stolen = await page(`?cursor=${next_cursor}`, 'globex');
    expect(stolen.jobs.every((job) => !singles.includes(job.id) && job.id !== other)).toBe(true);
  });

  it('refuses a malformed cursor, a cursor with other filters, and bad filters with 400s naming them', async () => {
    const problem = async (query: string) => {
      const answer = await api.call('GET', `/v1/jobs${query}`);
      expect(answer.status, query).toBe(400);
      expect(answer.headers.get('content-type')).toContain('application/problem+json');
      return (answer.json().errors as { path: string }[]).map((error) => error.path);
    };
    expect(await problem('?cursor=not-a-cursor')).toEqual(['query.cursor']);
    expect(await problem(`?cursor=${Buffer.from('{"v":1,"after":"x","filters":{}}').toString('base64url')}`)).toEqual([
      'query.cursor',
    ]);
    const { next_cursor } = await page('?status=queued&limit=1');
    expect(await problem(`?status=completed&cursor=${next_cursor}`)).toEqual(['query.cursor']);
    expect(await problem(`?status=queued&model=segmind-vega&cursor=${next_cursor}`)).toEqual(['query.cursor']);
    expect((await page(`?status=queued&cursor=${next_cursor}`)).jobs.every((job) => job.status === 'queued')).toBe(
      true,
    );
    expect(await problem('?limit=0')).toEqual(['query.limit']);
    expect(await problem('?limit=1001')).toEqual(['query.limit']);
    expect(await problem('?status=done')).toEqual(['query.status']);
    expect(await problem('?created_after=yesterday')).toEqual(['query.created_after']);
    expect(await problem('?batch_id=bat_nope')).toEqual(['query.batch_id']);
    // An unknown parameter (a typo) is refused rather than ignored, which would list everything.
    const typo = await api.call('GET', '/v1/jobs?stauts=queued');
    expect(typo.status).toBe(400);
    expect(typo.json().errors).toEqual([{ path: 'query.stauts', message: 'is not a query parameter of this route' }]);
  });

  it('needs a tenant key', async () => {
    expect((await api.call('GET', '/v1/jobs', { tenant: null })).status).toBe(401);
    expect((await api.call('GET', '/v1/jobs', { tenant: 'operator' })).status).toBe(403);
  });
});
