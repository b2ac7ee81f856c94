// Segmind's submit rate limit as one budget per API key in Redis, shared by every worker.
import { createRedis } from '@renderq/shared';
import { type RedisHandle, startRedis, uniqueName } from '@renderq/testing';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RateBudget } from '../src/segmind/rate-budget.js';
import { jobFor, type Stack, startStack } from './stack.js';

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

/** Draws for `ms` of virtual time from alternating budgets, taking every slot granted within a second. */
function grantedOver(budgets: readonly RateBudget[], startMs: number, ms: number): Promise<number[]> {
  return (async () => {
    const at: number[] = [];
    for (let now = startMs, i = 0; now < startMs + ms; now += 10, i++) {
      const draw = await (budgets[i % budgets.length] as RateBudget).draw(now);
      if (draw.granted) at.push(now + draw.waitMs);
    }
    return at;
  })();
}

describe('the Segmind rate budget', () => {
  it('paces two workers sharing a key at the configured rate, and keeps other keys apart', async () => {
    const prefix = uniqueName('budget');
    const a = new RateBudget({ redis, prefix, apiKey: 'key-1', initialPerSecond: 5 });
    const b = new RateBudget({ redis, prefix, apiKey: 'key-1', initialPerSecond: 5 });
    const other = new RateBudget({ redis, prefix, apiKey: 'key-2', initialPerSecond: 5 });
    const start = 1_000_000;
    const slots = await grantedOver([a, b], start, 10_000);
    // About 5 a second between them (the rate creeps up slowly while submits go through), never bunched.
    const inTenSeconds = slots.filter((t) => t < start + 10_000).length;
    expect(inTenSeconds).toBeGreaterThanOrEqual(48);
    expect(inTenSeconds).toBeLessThanOrEqual(56);
    const sorted = [...slots].sort((x, y) => x - y);
    for (let i = 1; i < sorted.length; i++)
      expect((sorted[i] as number) - (sorted[i - 1] as number)).toBeGreaterThan(150);
    // Another key has a budget of its own.
    expect((await other.draw(start + 5_000)).granted).toBe(true);
  });

  it('learns the limit from a 429, holds every worker until the reset, then paces below it', async () => {
    const prefix = uniqueName('budget');
    const a = new RateBudget({ redis, prefix, apiKey: 'key' });
    const b = new RateBudget({ redis, prefix, apiKey: 'key' });
    const start = 2_000_000;
    // Nothing known: the first draws go through at once.
    for (let i = 0; i < 10; i++) {
      const draw = await (i % 2 ? a : b).draw(start + i * 50);
      expect(draw.granted).toBe(true);
      // Segmind accepted the first 10 of this one-second window (a worker tells of them with its next draw or cut).
      a.accepted();
    }
    // The 11th is refused until the window resets, a second after it began.
    const reset = new Date(start + 1_000);
    const rate = await a.cut(reset, start + 600);
    expect(rate).toBeCloseTo(9.5, 1);
    // A second 429 from the same window (another worker's request in flight) changes nothing.
    expect(await b.cut(reset, start + 650)).toBeCloseTo(9.5, 1);
    // Both workers are held until the reset.
    expect(await b.draw(start + 700)).toEqual({ granted: false, waitMs: 300 });
    expect(await a.heldForMs(start + 900)).toBe(100);
    // After it, slots come about 105 ms apart (9.5 a second): each one-second window gets at most the 10
    // Segmind allows, and not many fewer.
    const slots = await grantedOver([a, b], start + 1_000, 2_000);
    for (const windowStart of [start + 1_000, start + 2_000]) {
      const inWindow = slots.filter((t) => t >= windowStart && t < windowStart + 1_000).length;
      expect(inWindow).toBeGreaterThanOrEqual(9);
      expect(inWindow).toBeLessThanOrEqual(10);
    }
    expect((await a.state())?.learned).toBe(true);
  });

  it('starts from SEGMIND_RATE_LIMIT: a worker started with it sends no submit before its slot', async () => {
    const prefix = uniqueName('budget');
    const budget = new RateBudget({ redis, prefix, apiKey: 'key', initialPerSecond: 50 / 60 });
    const start = 3_000_000;
    expect((await budget.draw(start)).granted).toBe(true);
    // Slots are 1.2 s apart: the next two are reserved (their submits wait for them), the one after that is
    // too far ahead, and its job is put back until then.
    const second = await budget.draw(start + 10);
    const third = await budget.draw(start + 20);
    expect(second).toEqual({ granted: true, waitMs: expect.any(Number) });
    expect(second.waitMs).toBeGreaterThan(1_100);
    expect(second.waitMs).toBeLessThanOrEqual(1_200);
    expect(third.granted).toBe(true);
    expect(third.waitMs).toBeGreaterThan(2_300);
    const fourth = await budget.draw(start + 30);
    expect(fourth.granted).toBe(false);
    expect(fourth.waitMs).toBeGreaterThan(3_400);
  });
});

describe('two workers under a 5/s submit limit', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  it('share one budget: few 429s, every job submitted once and completed', async () => {
    stack = await startStack({ latencyScale: 0.01, submitRateLimit: { max: 5, windowMs: 1_000 } });
    const s = stack;
    await Promise.all([s.startWorker(), s.startWorker()]);
    const ids = await s.createJobs(Array.from({ length: 30 }, (_, i) => jobFor('segmind-vega-rt-v1', `limited-${i}`)));
    const records = await s.waitForJobs(ids, 120_000);
    expect(records.map((r) => r.stage.name)).toEqual(ids.map(() => 'completed'));
    const perJob = Object.values(s.emulator.stats().submits.byMarker);
    expect(perJob.length).toBe(30);
    expect(perJob.every((n) => n === 1)).toBe(true);
    // Learning the limit costs a few refusals, not one or more per job as firing at every reset did.
    expect(s.emulator.stats().errors['429'] ?? 0).toBeLessThanOrEqual(6);
  }, 180_000);
});
