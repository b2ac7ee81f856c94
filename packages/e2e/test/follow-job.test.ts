// Following a job through the whole system — the API (in this process), a worker (a child
// process), the Segmind emulator and real Redis: its event stream shows every change of stage in
// order and ends after the final one; `Prefer: wait` answers when the job finishes, or when the
// wait is over.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Emulator, startEmulator } from '@renderq/segmind-emulator';
import { type RedisHandle, startRedis, uniqueName } from '@renderq/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type System, startSystem } from './system.js';

const API_KEY = 'e2e-follow-key-0123456789';
/** segmind-vega takes 4 s at Segmind's pace: 2 s here. */
const LATENCY_SCALE = 0.5;

let redisServer: RedisHandle;
let emulator: Emulator;
let system: System;
let dir: string;
let baseUrl: string;

beforeAll(async () => {
  [redisServer, emulator] = await Promise.all([
    startRedis(),
    startEmulator({ latencyScale: LATENCY_SCALE, latencyJitter: 0, gpusPerModel: 100 }),
  ]);
  dir = await mkdtemp(path.join(tmpdir(), 'renderq-follow-'));
  system = await startSystem({
    REDIS_URL: redisServer.url,
    RENDERQ_PREFIX: uniqueName('follow'),
    RENDERQ_API_KEYS: `e2e:${API_KEY}`,
    STORAGE_URL: `file://${dir}`,
    SEGMIND_BASE_URL: emulator.url,
    SEGMIND_API_KEY: emulator.apiKey,
    LOG_LEVEL: 'warn',
  });
  baseUrl = system.baseUrl;
}, 60_000);

afterAll(async () => {
  await system?.close();
  await Promise.all([emulator?.close(), redisServer?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

const headers = (more: Record<string, string> = {}) => ({
  authorization: `Bearer ${API_KEY}`,
  'content-type': 'application/json',
  ...more,
});
const VEGA = { model: 'segmind-vega', input: { prompt: 'a lighthouse at dusk', samples: 1 } };

describe('following a job end to end', () => {
  it('streams every change of stage in order, from a snapshot to the final event, and ends', async () => {
    const created = await fetch(`${baseUrl}/v1/jobs`, {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify(VEGA),
    });
    const { id } = (await created.json()) as { id: string };
    const stream = await fetch(`${baseUrl}/v1/jobs/${id}/events`, { headers: headers() });
    const text = await stream.text(); // until the stream ends
    const events = text
      .split('\n\n')
      .filter((block) => block.startsWith('id: '))
      .map((block) =>
        block
          .split('\n')
          .find((line) => line.startsWith('event: '))
          ?.slice(7),
      );
    // The snapshot may come before or after the submit began; after it, the changes in order.
    expect(events[0]).toBe('snapshot');
    const order = ['submitting', 'polling', 'storing', 'completed'];
    const changes = events.slice(1) as string[];
    expect(changes.at(-1)).toBe('completed');
    expect(changes).toEqual(order.slice(order.length - changes.length));
  });

  it('answers Prefer: wait with the finished job once it finishes, and with the job as it is when the wait is over', async () => {
    const started = Date.now();
    const done = await fetch(`${baseUrl}/v1/jobs`, {
      method: 'POST',
      headers: headers({ prefer: 'wait=30' }),
      body: JSON.stringify(VEGA),
    });
    const took = Date.now() - started;
    expect(done.status).toBe(200);
    expect(done.headers.get('preference-applied')).toBe('wait=30');
    expect(await done.json()).toMatchObject({ status: 'completed' });
    // Segmind's 2 s, and no more than the detection lag and a loaded machine's slack beyond it.
    expect(took).toBeGreaterThanOrEqual(2_000);
    expect(took).toBeLessThan(15_000);

    const created = await fetch(`${baseUrl}/v1/jobs`, {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify(VEGA),
    });
    const { id } = (await created.json()) as { id: string };
    const begun = Date.now();
    const early = await fetch(`${baseUrl}/v1/jobs/${id}`, { headers: headers({ prefer: 'wait=1' }) });
    expect(Date.now() - begun).toBeGreaterThanOrEqual(950);
    expect(early.headers.get('preference-applied')).toBe('wait=1');
    expect(((await early.json()) as { status: string }).status).not.toBe('completed');
  });
});
