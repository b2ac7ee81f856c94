import { createRedis } from '@renderq/shared';
import { type RedisHandle, startRedis, uniqueName } from '@renderq/testing';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LatencyQuantiles, latencyQuantiles, nextPollInMs, UNKNOWN_MODEL } from '../src/pipeline/poll-plan.js';
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

/** Latencies spread like a lognormal with this median and σ: its 1st to 99th percentiles, evenly. */
function lognormalSpread(medianMs: number, sigma: number, count = 99): number[] {
  return Array.from({ length: count }, (_, i) => medianMs * Math.exp(sigma * probit((i + 1) / (count + 1))));
}

/** Inverse of the standard normal CDF (Acklam's approximation, plenty for a test). */
function probit(p: number): number {
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239,
  ];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const poly = (k: number[], x: number) => k.reduce((sum, coefficient) => sum * x + coefficient, 0);
  if (p < 0.02425) {
    const q = Math.sqrt(-2 * Math.log(p));
    return poly(c, q) / (poly(d, q) * q + 1);
  }
  if (p > 1 - 0.02425) return -probit(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (poly(a, r) * q) / (poly(b, r) * r + 1);
}

/** Follows one request finishing at `latencyMs` through the plan, in virtual time. */
function follow(q: LatencyQuantiles, latencyMs: number, lagShare = 0.1): { polls: number; lagMs: number } {
  let t = 0;
  let polls = 0;
  while (t < latencyMs) {
    t += nextPollInMs(q, t, { lagShare, maxIntervalMs: 15_000 });
    polls++;
  }
  return { polls, lagMs: t - latencyMs };
}

const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)] as number;

describe('the poll schedule', () => {
  it('learns each model’s latencies from every worker, shared through Redis', async () => {
    const prefix = uniqueName('schedule');
    const a = new PollSchedule({ redis, prefix, maxIntervalMs: 15_000 });
    const b = new PollSchedule({ redis, prefix, maxIntervalMs: 15_000 });
    // Nothing learned yet: a wide guess.
    expect(await a.quantiles('segmind-vega')).toEqual(UNKNOWN_MODEL);
    for (const ms of lognormalSpread(20_000, 0.25)) await a.observe('segmind-vega', ms);
    await a.flush();
    const learned = await b.quantiles('segmind-vega');
    expect(learned.p50).toBeCloseTo(20_000, -3);
    expect(learned.p10).toBeLessThan(learned.p50);
    expect(learned.p90).toBeGreaterThan(learned.p50);
    // Another model is unaffected; the first poll comes at the 10th percentile, not after the median.
    expect(await b.quantiles('segmind-vega-rt-v1')).toEqual(UNKNOWN_MODEL);
    const now = 5_000_000;
    expect(await b.nextPollDelayMs('segmind-vega', now, now)).toBeCloseTo(learned.p10, 0);
    // Only the last 256 latencies count: the model got slower, and the schedule follows.
    for (let i = 0; i < 256; i++) await a.observe('segmind-vega', 60_000);
    await a.flush();
    const c = new PollSchedule({ redis, prefix, maxIntervalMs: 15_000 });
    expect((await c.quantiles('segmind-vega')).p10).toBe(60_000);
  });

  it('keeps the median detection lag within 10 % of the median latency, with fewer polls than a 1 s poll', () => {
    for (const [medianMs, sigma] of [
      [10_000, 0.25],
      [10_000, 0.5],
      [60_000, 0.5],
    ] as const) {
      const latencies = lognormalSpread(medianMs, sigma, 999);
      const q = {
        p10: latencies[99] as number,
        p50: latencies[499] as number,
        p90: latencies[899] as number,
      };
      const followed = latencies.map((latency) => follow(q, latency));
      expect(median(followed.map((f) => f.lagMs))).toBeLessThanOrEqual(0.1 * medianMs);
      const fixedPolls = median(latencies.map((latency) => Math.ceil(latency / 1000)));
      expect(median(followed.map((f) => f.polls))).toBeLessThanOrEqual(0.5 * fixedPolls);
      // A tighter bound buys a smaller lag with more polls.
      const tight = latencies.map((latency) => follow(q, latency, 0.02));
      expect(median(tight.map((f) => f.lagMs))).toBeLessThanOrEqual(0.02 * medianMs);
      expect(median(tight.map((f) => f.polls))).toBeGreaterThan(median(followed.map((f) => f.polls)));
    }
  });

  it('places polls on one grid whatever the time of asking, never further apart than the cap', () => {
    const q: LatencyQuantiles = { p10: 5_000, p50: 10_000, p90: 20_000 };
    const settings = { lagShare: 0.1, maxIntervalMs: 15_000 };
    // A poll that ran late (or a step retried after a crash) lands on the same next poll time.
    const onTime = 12_000 + nextPollInMs(q, 12_000, settings);
    const late = 12_300 + nextPollInMs(q, 12_300, settings);
    expect(onTime).toBeGreaterThan(12_300);
    expect(late).toBe(onTime);
    for (let elapsed = 0; elapsed < 600_000; elapsed += 777) {
      const wait = nextPollInMs(q, elapsed, settings);
      expect(wait).toBeGreaterThan(0);
      expect(wait).toBeLessThanOrEqual(15_000);
    }
    // A model that answers at once (Segmind reports 0 s) is polled within 0.1 s, then less and less often.
    const instant = latencyQuantiles([0, 0, 0, 0, 0, 1]) as LatencyQuantiles;
    expect(nextPollInMs(instant, 0, settings)).toBeLessThanOrEqual(100);
    const waits = [10, 500, 5_000, 60_000].map((elapsed) => nextPollInMs(instant, elapsed, settings));
    for (const wait of waits) {
      expect(wait).toBeGreaterThan(0);
      expect(wait).toBeLessThanOrEqual(15_000);
    }
    expect(waits[0]).toBeLessThan(waits[2] as number);
    // Requests that already took far longer than usual are polled at the cap.
    expect(nextPollInMs(q, 400_000, settings)).toBeGreaterThan(1_000);
  });
});
