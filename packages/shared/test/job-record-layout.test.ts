// How a job record is laid out in its Redis hash: long values kept in pieces of at most
// 64 bytes (so that Redis keeps the hash as a compact listpack under its default
// settings), read back whole; and records written by the earlier layout — every field
// present, long values whole — read and move as before, as a deployment upgraded with
// jobs in flight finds them.
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { type CancelledRequest, type JobRecord, type JobStore, type NewJob, unfinishedJobsKey } from '../src/index.js';
import { toPieces } from '../src/jobs/record-hash.js';
import { jobKey } from '../src/redis/keys.js';
import { useJobStore } from './job-store-fixture.js';

let redis: Redis;
let prefix: string;
let store: JobStore;

useJobStore('layout', (fixture) => {
  ({ redis, prefix, store } = fixture);
});

/** A prompt long enough for many pieces, with characters of 2, 3 and 4 UTF-8 bytes across every cut. */
const LONG_PROMPT = `a lighthouse at dusk, ${'ñ海🌊 '.repeat(40)}in the style of an old woodcut`;

const job = (overrides: Partial<NewJob> = {}): NewJob => ({
  tenant: 'acme',
  model: 'segmind-vega',
  input: { prompt: LONG_PROMPT, seed: 42 },
  metadata: { order: 'ö'.repeat(50) },
  webhookUrl: `https://hooks.example.com/renderq/${'x'.repeat(80)}`,
  ...overrides,
});

const request = (id: string): CancelledRequest => ({
  request_id: `req-${id}`,
  status_url: `https://api.segmind.com/v2/requests/req-${id}/status`,
  response_url: `https://api.segmind.com/v2/requests/req-${id}`,
  submitted_at: '2026-11-30T10:00:01.000Z',
  polls: 0,
});

async function toPolling(id: string): Promise<CancelledRequest> {
  const polling = request(id);
  await store.transition(id, 'submit', { name: 'submitting', since: new Date().toISOString() });
  await store.transition(id, 'submitted', { name: 'polling', ...polling }, { segmind_request_id: polling.request_id });
  return polling;
}

async function longestValue(id: string): Promise<number> {
  const hash = await redis.hgetall(jobKey(prefix, id));
  return Math.max(...Object.values(hash).map((value) => Buffer.byteLength(value)));
}

describe('a job record in Redis', () => {
  it('keeps every value within 64 bytes, long ones in pieces, and reads them back whole', async () => {
    const created = await store.create(job());
    expect(await longestValue(created.id)).toBeLessThanOrEqual(64);
    expect(await store.get(created.id)).toEqual(created);

    const polling = await toPolling(created.id);
    await store.transition(created.id, 'poll', { name: 'polling', ...polling, polls: 1 });
    expect(await longestValue(created.id)).toBeLessThanOrEqual(64);
    const read = await store.get(created.id);
    expect(read?.input).toEqual({ prompt: LONG_PROMPT, seed: 42 });
    expect(read?.webhook_url).toBe(created.webhook_url);
    expect(read?.stage).toEqual({ name: 'polling', ...polling, polls: 1 });
    expect(await store.getOwned('acme', created.id)).toEqual(read);
  });

  it('leaves no piece of a longer value behind when a value gets shorter', async () => {
    const { id } = await store.create(job());
    const polling = await toPolling(id);
    await store.transition(id, 'result', {
      name: 'storing',
      request_id: polling.request_id,
      sources: Array.from({ length: 4 }, (_, i) => `https://cdn.segmind.com/outputs/${polling.request_id}/${i}.png`),
      attempts: 0,
    });
    await store.transition(id, 'complete', { name: 'completed' });
    const fields = Object.keys(await redis.hgetall(jobKey(prefix, id)));
    expect(fields.filter((field) => field.startsWith('stage_data'))).toEqual(['stage_data']);
    expect((await store.get(id))?.stage).toEqual({ name: 'completed' });
  });

  it('keeps a long error written by the transition script in pieces cut between characters', async () => {
    const { id } = await store.create(job());
    await toPolling(id);
    const error = { code: 'segmind_failed' as const, message: `Segmind: ${'ошибка 画像 🌋 '.repeat(12)}` };
    await store.transition(id, 'fail_poll', { name: 'failed', error });
    expect(await longestValue(id)).toBeLessThanOrEqual(64);
    expect(await store.get(id)).toMatchObject({ stage: { name: 'failed', error }, error });
  });

  it('keeps a value over 1 KiB whole: pieces would cost a table entry each, twice its bytes', async () => {
    const input = { prompt: 'p'.repeat(10_000), negative_prompt: 'n'.repeat(10_000) };
    const metadata = { note: 'm'.repeat(16_000) };
    const created = await store.create(job({ input, metadata }));
    const fields = Object.keys(await redis.hgetall(jobKey(prefix, created.id)));
    expect(fields).toEqual(expect.arrayContaining(['input', 'metadata']));
    expect(fields.filter((field) => /^(input|metadata):/.test(field))).toEqual([]);
    expect(await store.get(created.id)).toEqual(created);
    // About the bytes it holds (36 KB; 37.9 KB measured), not twice them (77 KB in pieces);
    // every field counted (the default samples 5 and extrapolates, which swings widely here).
    expect(Number(await redis.call('MEMORY', 'USAGE', jobKey(prefix, created.id), 'SAMPLES', '0'))).toBeLessThan(
      45_000,
    );
    // The scripts keep the same rule: a long error is written whole, with no pieces.
    await toPolling(created.id);
    const long = { code: 'segmind_failed' as const, message: 'x'.repeat(2_000) };
    await store.transition(created.id, 'fail_poll', { name: 'failed', error: long });
    const failed = await redis.hgetall(jobKey(prefix, created.id));
    expect(failed.error).toBe(JSON.stringify(long));
    expect(Object.keys(failed).filter((field) => field.startsWith('error:'))).toEqual([]);
    expect((await store.get(created.id))?.error).toEqual(long);
  });

  it('rewrites a value from whole to pieces and back, leaving nothing of the other form', async () => {
    const { id } = await store.create(job());
    const polling = await toPolling(id);
    const storing = (count: number, attempts: number) => ({
      name: 'storing' as const,
      request_id: polling.request_id,
      sources: Array.from(
        { length: count },
        (_, i) => `https://cdn.segmind.com/outputs/${polling.request_id}/${i}.png`,
      ),
      attempts,
    });
    const stageFields = async () =>
      Object.keys(await redis.hgetall(jobKey(prefix, id))).filter((field) => field.startsWith('stage_data'));
    await store.transition(id, 'result', storing(20, 0)); // about 1.4 KiB: whole
    expect(await stageFields()).toEqual(['stage_data']);
    await store.transition(id, 'retry_store', storing(4, 1)); // about 300 bytes: pieces
    expect((await stageFields()).length).toBeGreaterThan(1);
    expect(await stageFields()).not.toContain('stage_data');
    expect((await store.get(id))?.stage).toEqual(storing(4, 1));
    await store.transition(id, 'retry_store', storing(20, 2));
    expect(await stageFields()).toEqual(['stage_data']);
    expect((await store.get(id))?.stage).toEqual(storing(20, 2));
  });

  it('cuts pieces between UTF-8 characters, each at most 64 bytes', () => {
    const pieces = toPieces(LONG_PROMPT);
    expect(pieces.join('')).toBe(LONG_PROMPT);
    for (const piece of pieces) {
      expect(Buffer.byteLength(piece)).toBeLessThanOrEqual(64);
      expect(Buffer.from(piece, 'utf8').toString('utf8')).toBe(piece);
      expect(piece).not.toContain('\uFFFD');
    }
    expect(toPieces('short')).toEqual(['short']);
  });
});

describe('a record of the earlier layout (every field present, long values whole)', () => {
  /** The hash as the previous layout wrote it, for a job in `stage`. */
  function earlierHash(id: string, stage: JobRecord['stage']): Record<string, string> {
    return {
      id,
      tenant: 'acme',
      model: 'segmind-vega',
      input: JSON.stringify({ prompt: LONG_PROMPT, seed: 42 }),
      inputs: '[]',
      metadata: 'null',
      batch_id: '',
      webhook_url: '',
      webhook_events: '',
      priority: '1',
      stage: stage.name,
      stage_data: JSON.stringify(stage),
      segmind_request_id: 'request_id' in stage ? stage.request_id : '',
      outputs: '[]',
      error: '',
      cost: '',
      cancelled_request: '',
      created_at: '2026-11-30T10:00:00.000Z',
      started_at: stage.name === 'queued' ? '' : '2026-11-30T10:00:01.000Z',
      finished_at: '',
      updated_at: '2026-11-30T10:00:01.000Z',
    };
  }

  async function writeEarlier(id: string, stage: JobRecord['stage']): Promise<void> {
    await redis.hset(jobKey(prefix, id), earlierHash(id, stage));
    await redis.zadd(unfinishedJobsKey(prefix), 1, id);
  }

  it('reads as the same record', async () => {
    const polling = request('old-1');
    await writeEarlier('job_old1', { name: 'polling', ...polling });
    expect(await store.get('job_old1')).toEqual({
      id: 'job_old1',
      tenant: 'acme',
      model: 'segmind-vega',
      input: { prompt: LONG_PROMPT, seed: 42 },
      inputs: [],
      metadata: null,
      batch_id: null,
      webhook_url: null,
      webhook_events: null,
      priority: 1,
      stage: { name: 'polling', ...polling },
      segmind_request_id: polling.request_id,
      outputs: [],
      error: null,
      cost: null,
      cancelled_request: null,
      created_at: '2026-11-30T10:00:00.000Z',
      started_at: '2026-11-30T10:00:01.000Z',
      finished_at: null,
      trace_parent: null,
      start_by: null,
      replay_of: null,
      replayed_by: null,
    } satisfies JobRecord);
  });

  it('moves through polling, storing and completion, the whole stage giving way to pieces', async () => {
    const polling = request('old-2');
    await writeEarlier('job_old2', { name: 'polling', ...polling });
    expect((await store.transition('job_old2', 'poll', { name: 'polling', ...polling, polls: 3 })).ok).toBe(true);
    expect(await redis.hexists(jobKey(prefix, 'job_old2'), 'stage_data')).toBe(0);
    expect((await store.get('job_old2'))?.stage).toEqual({ name: 'polling', ...polling, polls: 3 });

    const output = {
      index: 0,
      storage_key: 'p/job_old2/0.png',
      content_type: 'image/png',
      size: 3,
      sha256: 'a'.repeat(64),
    };
    await store.transition('job_old2', 'result', {
      name: 'storing',
      request_id: polling.request_id,
      sources: [],
      attempts: 0,
    });
    await store.transition('job_old2', 'complete', { name: 'completed' }, { outputs: [output], cost: 0.002 });
    const done = await store.get('job_old2');
    expect(done).toMatchObject({
      stage: { name: 'completed' },
      outputs: [output],
      cost: 0.002,
      started_at: '2026-11-30T10:00:01.000Z',
    });
    expect(done?.finished_at).not.toBeNull();
    expect(await redis.hexists(jobKey(prefix, 'job_old2'), 'outputs')).toBe(0);
    expect(await redis.zscore(unfinishedJobsKey(prefix), 'job_old2')).toBeNull();
  });

  it('is followed for its cost when cancelled while polling, then settled', async () => {
    const polling = request('old-3');
    await writeEarlier('job_old3', { name: 'polling', ...polling });
    await store.transition('job_old3', 'cancel', { name: 'cancelled' });
    expect((await store.get('job_old3'))?.cancelled_request).toEqual(polling);
    const [glance] = (await store.unfinishedJobsToCheck(-1).next()).value ?? [];
    expect(glance).toMatchObject({ id: 'job_old3', stage: 'cancelled', following: true });

    expect(await store.followCancelled('job_old3', { ...polling, polls: 1 }, 'poll')).toBe(true);
    expect((await store.get('job_old3'))?.cancelled_request).toEqual({ ...polling, polls: 1 });
    const record = (await store.get('job_old3')) as JobRecord;
    expect(await store.settleCancelled(record, polling.request_id, 0.004)).toBe(true);
    const settled = await store.get('job_old3');
    expect(settled).toMatchObject({ stage: { name: 'cancelled' }, cancelled_request: null, cost: 0.004 });
    const left = Object.keys(await redis.hgetall(jobKey(prefix, 'job_old3')));
    expect(left.filter((field) => field.startsWith('cancelled_request'))).toEqual([]);
  });

  it('follows a cancelled request recorded whole by the earlier layout', async () => {
    const polling = request('old-4');
    await redis.hset(jobKey(prefix, 'job_old4'), {
      ...earlierHash('job_old4', { name: 'cancelled' }),
      cancelled_request: JSON.stringify(polling),
      segmind_request_id: polling.request_id,
    });
    expect((await store.get('job_old4'))?.cancelled_request).toEqual(polling);
    expect(await store.followCancelled('job_old4', { ...polling, polls: 2 }, 'poll')).toBe(true);
    expect(await redis.hexists(jobKey(prefix, 'job_old4'), 'cancelled_request')).toBe(0);
    expect((await store.get('job_old4'))?.cancelled_request).toEqual({ ...polling, polls: 2 });
  });
});
