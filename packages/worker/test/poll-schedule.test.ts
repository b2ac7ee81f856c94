import { createRedis } from '@renderq/shared';
import { type RedisHandle, startRedis, uniqueName } from '@renderq/testing';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PollSchedule } from '../src/pipeline/poll-schedule.js';

let server: RedisHandle;
let redis: Redis;
beforeAll(async () => {
  server = await startRedis();
  redis = createRedis(server.url, 'client');
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

describe('the poll schedule', () => {
  it('polls first near the learned duration, shared between workers, then backs off to the cap', async () => {
    const prefix = uniqueName('schedule');
    const a = new PollSchedule({ redis, prefix, maxIntervalMs: 10_000 });
    const b = new PollSchedule({ redis, prefix, maxIntervalMs: 10_000 });
    const now = 1_000_000;
    // Nothing learned: the default.
    expect(await a.nextPollDelayMs('segmind-vega', now, 0, now)).toBeCloseTo(3_000 * 1.05 + 50, -1);
    await a.observe('segmind-vega', 8_000);
    for (let i = 0; i < 20; i++) await a.observe('segmind-vega', 4_000);
    // Another worker sees what this one learned.
    const expected = await b.expectedDurationMs('segmind-vega');
    expect(expected).toBeGreaterThan(4_000);
    expect(expected).toBeLessThan(4_100);
    expect(await b.nextPollDelayMs('segmind-vega', now, 0, now)).toBeCloseTo(expected * 1.05 + 50, -1);
    // Half the usual time already passed: the first poll comes sooner.
    expect(await b.nextPollDelayMs('segmind-vega', now - 2_000, 0, now)).toBeCloseTo(expected * 1.05 + 50 - 2_000, -1);
    const later = [1, 2, 3, 4, 5, 10, 20].map(() => 0);
    for (const [i, polls] of [1, 2, 3, 4, 5, 10, 20].entries())
      later[i] = await b.nextPollDelayMs('segmind-vega', now, polls, now);
    expect(later[0]).toBeLessThan(later[3] as number);
    expect(Math.max(...later)).toBeLessThanOrEqual(10_000);
    expect(later[6]).toBe(10_000);
  });
});
