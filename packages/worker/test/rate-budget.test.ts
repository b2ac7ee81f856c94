// Segmind's submit rate limit as one budget per API key in Redis, shared by every worker: its rules
// against a real Redis with a fake clock, and two workers against the emulator.
import { createRedis } from '@renderq/shared';
import { type RedisHandle, startRedis, uniqueName } from '@renderq/testing';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RateBudget } from '../src/segmind/rate-budget.js';
import { jobFor, type Stack, startStack } from './stack.js';
import { type LimitPhase, type PhaseResult, simulate } from './submit-limit-model.js';

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
  it('paces two workers sharing a key at SEGMIND_RATE_LIMIT, and keeps other keys apart', async () => {
    const prefix = uniqueName('budget');
    const knownLimit = { count: 5, windowMs: 1_000 };
    const a = new RateBudget({ redis, prefix, apiKey: 'key-1', knownLimit });
    const b = new RateBudget({ redis, prefix, apiKey: 'key-1', knownLimit });
    const other = new RateBudget({ redis, prefix, apiKey: 'key-2', knownLimit });
    const start = 1_000_000;
    const slots = await grantedOver([a, b], start, 10_000);
    // About 5 a second between them (97 % of the limit at first, never above it), never bunched.
    const inTenSeconds = slots.filter((t) => t < start + 10_000).length;
    expect(inTenSeconds).toBeGreaterThanOrEqual(47);
    expect(inTenSeconds).toBeLessThanOrEqual(51);
    const sorted = [...slots].sort((x, y) => x - y);
    for (let i = 1; i < sorted.length; i++)
      expect((sorted[i] as number) - (sorted[i - 1] as number)).toBeGreaterThan(170);
    // Another key has a budget of its own.
    expect((await other.draw(start + 5_000)).granted).toBe(true);
  });

  it('decreases on a 429 to what the window allowed, holds every worker until it ends, then paces below it', async () => {
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
    // The 11th is refused; Segmind names a reset a second after the window began.
    const reset = new Date(start + 1_000);
    const cut = await a.cut(reset, start + 600);
    expect(cut.perSecond).toBeCloseTo(9.7, 1);
    expect(cut.holdUntil.getTime()).toBeLessThanOrEqual(reset.getTime());
    // A second 429 from the same window (another worker's request in flight) changes nothing.
    expect(await b.cut(reset, start + 650)).toEqual(cut);
    // Both workers are held until the hold ends.
    const held = cut.holdUntil.getTime();
    expect(await b.draw(start + 700)).toEqual({ granted: false, waitMs: held - (start + 700) });
    // A slot reserved before the 429 was paced at the rate it found too high: void, drawn again.
    expect(await a.voidedSince(start + 500, held - 100)).toBe(true);
    expect(await b.voidedSince(start + 590, held + 10)).toBe(true);
    expect(await b.voidedSince(start + 610, held + 10)).toBe(false);
    // (Nor does a slot drawn after it go out while the hold lasts.)
    expect(await b.voidedSince(start + 610, held - 10)).toBe(true);
    // After it, slots come about 103 ms apart (9.7 a second): each one-second window gets at most the 10
    // Segmind allows, and not many fewer.
    const slots = await grantedOver([a, b], start + 1_000, 2_000);
    for (const windowStart of [start + 1_000, start + 2_000]) {
      const inWindow = slots.filter((t) => t >= windowStart && t < windowStart + 1_000).length;
      expect(inWindow).toBeGreaterThanOrEqual(9);
      expect(inWindow).toBeLessThanOrEqual(10);
    }
    expect(await a.state(start + 3_000)).toMatchObject({ learned: true, ceilingPerSecond: 10, windowMs: 1_000 });
  });

  it('holds until the learned window ends when the named reset is later, and learns a minute window from a far reset', async () => {
    const prefix = uniqueName('budget');
    const budget = new RateBudget({ redis, prefix, apiKey: 'key' });
    const start = 2_500_000;
    for (let i = 0; i < 5; i++) {
      expect((await budget.draw(start + i * 20)).granted).toBe(true);
      budget.accepted();
    }
    // A 429 naming a reset 2.5 s ahead: a late reset to a one-second window, which ends within a second.
    const cut = await budget.cut(new Date(start + 2_600), start + 100);
    expect(cut.holdUntil.getTime()).toBeLessThanOrEqual(start + 1_100);
    expect((await budget.state(start + 100))?.windowMs).toBe(1_000);

    const minute = new RateBudget({ redis, prefix, apiKey: 'minute-key' });
    for (let i = 0; i < 50; i++) {
      expect((await minute.draw(start + i * 20)).granted).toBe(true);
      minute.accepted();
    }
    // Refused a second after the first submit, the reset 59 s ahead (2 s of it may be lateness): a window
    // of at least 57 s, holding 50.
    const perMinute = await minute.cut(new Date(start + 60_000), start + 1_000);
    expect(perMinute.perSecond).toBeCloseTo((0.97 * 50) / 57, 3);
    expect(await minute.state(start + 1_000)).toMatchObject({ windowMs: 57_000 });
  });

  it('grows the rate with busy time, not per submit, and an idle spell neither lowers nor grows it', async () => {
    const prefix = uniqueName('budget');
    const budget = new RateBudget({ redis, prefix, apiKey: 'key' });
    const start = 3_000_000;
    for (let i = 0; i < 10; i++) {
      await budget.draw(start + i * 10);
      budget.accepted();
    }
    const cut = await budget.cut(new Date(start + 1_000), start + 500);
    const learned = cut.perSecond;
    const from = cut.holdUntil.getTime();
    // A hundred draws at one moment: not one of them grows the rate.
    for (let i = 0; i < 100; i++) await budget.draw(from);
    expect((await budget.state(from))?.perSecond).toBe(learned);
    // Busy (the pace holding submits back) for three windows: still on the plateau under the ceiling.
    await grantedOver([budget], from, 3_000);
    expect((await budget.state(from + 3_000))?.perSecond).toBe(learned);
    // Idle for an hour: nothing changes, and the idle time does not count as busy.
    expect((await budget.state(from + 3_600_000))?.perSecond).toBe(learned);
    await grantedOver([budget], from + 3_600_000, 2_000);
    // (An idle spell of more than five minutes starts probing at once: the state may be stale.)
    const afterIdle = (await budget.state(from + 3_602_000))?.perSecond as number;
    expect(afterIdle).toBeGreaterThan(learned);
    // Busy time past the plateau: the probe accelerates — × 2 in two windows, × 256 in four.
    await grantedOver([budget], from + 3_602_000, 2_000);
    expect((await budget.state(from + 3_604_000))?.perSecond).toBeGreaterThan(8 * learned);
  });

  it('finds a raised limit from what the window before a 429 took: twice the ceiling climbs at once, the ceiling does not', async () => {
    /** A budget that learned 5 a second, then was busy for seven windows (a plateau of four, then probing); `took` of its slots in the last second accepted. */
    const probedThenRefused = async (key: string, took: number) => {
      const budget = new RateBudget({ redis, prefix: uniqueName('budget'), apiKey: key });
      const start = 4_000_000;
      for (let i = 0; i < 5; i++) {
        await budget.draw(start + i * 10);
        budget.accepted(start + i * 10);
      }
      const from = (await budget.cut(new Date(start + 1_000), start + 500)).holdUntil.getTime();
      const slots = await grantedOver([budget], from, 7_000);
      const end = from + 7_000;
      // Accepted: every slot before the last second, and `took` of the last second's.
      const last = slots.filter((t) => t > end - 1_000 && t <= end);
      expect(last.length).toBeGreaterThanOrEqual(took);
      for (const t of slots.filter((t) => t <= end - 1_000)) budget.accepted(t);
      for (const t of last.slice(0, took)) budget.accepted(t);
      const cut = await budget.cut(new Date(end + 1_500), end);
      // Then busy for two more windows.
      await grantedOver([budget], cut.holdUntil.getTime(), 2_000);
      return { cut, state: await budget.state(cut.holdUntil.getTime() + 2_000) };
    };
    // Ten in the last second, twice the ceiling of 5: the limit was raised. The rate climbs (at most half
    // again the old ceiling at once) and the probe goes on without a plateau.
    const raised = await probedThenRefused('raised', 10);
    expect(raised.cut.perSecond).toBeGreaterThan(6);
    expect(raised.cut.perSecond).toBeLessThanOrEqual(7.5);
    expect(raised.state?.perSecond).toBeGreaterThan(raised.cut.perSecond);
    // Five, the ceiling: an unchanged limit. No raise: back to the plateau under it.
    const unchanged = await probedThenRefused('unchanged', 5);
    expect(unchanged.cut.perSecond).toBeLessThanOrEqual(5);
    expect(unchanged.state?.perSecond).toBe(unchanged.cut.perSecond);
  });

  it('is the state in Redis: new budgets over it (a restart of every worker) go on at the learned pace', async () => {
    const prefix = uniqueName('budget');
    const before = new RateBudget({ redis, prefix, apiKey: 'key' });
    const start = 4_000_000;
    for (let i = 0; i < 5; i++) {
      await before.draw(start + i * 10);
      before.accepted();
    }
    const cut = await before.cut(new Date(start + 1_000), start + 100);
    // Both workers restart: new objects, the same key. No herd: their first second gets the learned pace.
    const after = [new RateBudget({ redis, prefix, apiKey: 'key' }), new RateBudget({ redis, prefix, apiKey: 'key' })];
    const from = cut.holdUntil.getTime() + 500;
    const slots = await grantedOver(after, from, 1_000);
    expect(slots.filter((t) => t < from + 1_000).length).toBeLessThanOrEqual(5);
    expect((await after[0]?.state(from + 1_000))?.ceilingPerSecond).toBeCloseTo(5, 5);
  });
});

describe('the rate budget against clock windows whose 429s name a late reset (virtual time)', () => {
  const start = 1_000_000_000;
  /** Submits per second over the share of the limit left to renderq, after each phase's first 10 s. */
  const share = (r: PhaseResult, perSecondLeft: number) => r.acceptedLate / (r.lateMs / 1_000) / perSecondLeft;
  const per = (r: PhaseResult) => r.refused / r.accepted;

  // Quiet: four worker slots, each submit reaching Segmind 20 ms after its slot; one run (nothing in it
  // is random). Loaded: twenty slots, submits up to 50 ms late (a different pseudo-random sequence in
  // each of three runs), and a job put back taken again 100 ms after the queue's hold ends — two
  // workers on a loaded machine, as the bench meets them. The targets hold for every row of the quiet
  // run and, on average over the three, of the loaded one (one run alone is one draw of the jitter).
  it.each([
    { machine: 'quiet', slots: 4, loaded: {}, seeds: [1] },
    { machine: 'loaded', slots: 20, loaded: { jitterMs: 50, refetchMs: 100 }, seeds: [1, 2, 3] },
  ])(
    "keeps ≥ 90 % of a per-second limit through an operator's day, and finds every change within 10 s ($machine)",
    async ({ slots, loaded, seeds }) => {
      const phases: LimitPhase[] = [
        { ms: 30_000, max: 5, windowMs: 1_000 },
        { ms: 30_000, max: 40, windowMs: 1_000 },
        { ms: 30_000, max: 5, windowMs: 1_000 },
        { ms: 60_000, max: 5, windowMs: 1_000, idle: true },
        { ms: 30_000, max: 5, windowMs: 1_000 },
        { ms: 30_000, max: 10, windowMs: 1_000 },
        { ms: 30_000, max: 10, windowMs: 1_000, otherShare: 0.5 },
      ];
      const days: PhaseResult[][] = [];
      for (const seed of seeds) {
        const prefix = uniqueName('sim');
        // Two budget objects over one key.
        const budgets = [
          new RateBudget({ redis, prefix, apiKey: 'key' }),
          new RateBudget({ redis, prefix, apiKey: 'key' }),
        ];
        days.push(await simulate(budgets, phases, start, slots, { ...loaded, seed }));
      }
      const mean = (of: (r: PhaseResult) => number, i: number) =>
        days.reduce((sum, day) => sum + of(day[i] as PhaseResult), 0) / days.length;
      // Fresh 5/s; 5/s after 40/s; 5/s after a minute idle; raised to 10/s; half of 10/s left by another client.
      for (const i of [0, 2, 4, 5, 6]) {
        const phase = phases[i] as LimitPhase;
        const left = (phase.max as number) * (1 - (phase.otherShare ?? 0));
        expect(
          mean((r) => share(r, left), i),
          `phase ${i}`,
        ).toBeGreaterThanOrEqual(0.9);
        expect(mean(per, i), `phase ${i}`).toBeLessThanOrEqual(0.1);
        expect(
          mean((r) => r.msTo90 ?? Infinity, i),
          `phase ${i}`,
        ).toBeLessThanOrEqual(10_000);
      }
    },
  );

  it('finds a lifted limit within seconds after a per-second one', async () => {
    const prefix = uniqueName('sim');
    const budgets = [new RateBudget({ redis, prefix, apiKey: 'key' })];
    const [limited, lifted] = await simulate(
      budgets,
      [
        { ms: 20_000, max: 5, windowMs: 1_000 },
        { ms: 20_000, max: null, windowMs: 1_000 },
      ],
      start,
    );
    const [never] = await simulate(
      [new RateBudget({ redis, prefix, apiKey: 'other' })],
      [{ ms: 20_000, max: null, windowMs: 1_000 }],
      start + 100_000,
    );
    expect(limited?.accepted).toBeLessThan(110);
    // After the first 10 s, as many as with no limit ever (two workers, a 20 ms round trip: 100 a second).
    expect((lifted?.acceptedLate as number) / (never?.acceptedLate as number)).toBeGreaterThanOrEqual(0.9);
  });

  // Started anywhere in a clock minute on a loaded machine, the first 429 comes anywhere in its window:
  // 17 s in, or 40–48 s in, where its reset, 13–20 s ahead, proves only that much of the window (before
  // the second 429 learned 45 s rather than 60 s, these starts got 87–89 %). The bench's mark is 85 %;
  // the model is deterministic and quieter than a real machine, so it is held to 90 %.
  it.each([{ secondsIn: 17 }, { secondsIn: 40 }, { secondsIn: 44 }])(
    'keeps ≥ 90 % of a per-minute limit after its first two windows, with few 429s (started $secondsIn s into a minute)',
    async ({ secondsIn }) => {
      const minute = 1_000_020_000; // a whole number of minutes since the epoch
      const prefix = uniqueName('sim');
      const budgets = [new RateBudget({ redis, prefix, apiKey: 'key' })];
      const [result] = await simulate(
        budgets,
        [{ ms: 300_000, max: 50, windowMs: 60_000 }],
        minute + secondsIn * 1_000,
        20,
        { jitterMs: 50, refetchMs: 100 },
      );
      const r = result as PhaseResult;
      expect(share(r, 50 / 60)).toBeGreaterThanOrEqual(0.9);
      expect(per(r)).toBeLessThanOrEqual(0.1);
      expect(r.msTo90).toBeLessThanOrEqual(180_000);
    },
  );
});

describe('two workers under a 5/s submit limit', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  it('share one budget across a restart of both: few 429s, none in a herd after it, every job submitted once', async () => {
    stack = await startStack({ latencyScale: 0.01, submitRateLimit: { max: 5, windowMs: 1_000 } });
    const s = stack;
    const first = await Promise.all([s.startWorker(), s.startWorker()]);
    const ids = await s.createJobs(Array.from({ length: 40 }, (_, i) => jobFor('segmind-vega-rt-v1', `limited-${i}`)));
    while (s.emulator.stats().submits.accepted < 15) await new Promise((resolve) => setTimeout(resolve, 100));
    // Learning the limit costs a few refusals, not one or more per job as firing at every reset did.
    const beforeRestart = s.emulator.stats().errors['429'] ?? 0;
    // (A loaded machine bunches submits at a window's edge — 16 in one run beside two other suites;
    // bounds well below a refusal per job.)
    expect(beforeRestart).toBeLessThanOrEqual(20);
    // Both workers restart; the new ones go on at the pace learned, in Redis.
    await Promise.all(first.map((worker) => worker.stop()));
    await Promise.all([s.startWorker(), s.startWorker()]);
    const records = await s.waitForJobs(ids, 120_000);
    expect(records.map((r) => r.stage.name)).toEqual(ids.map(() => 'completed'));
    const perJob = Object.values(s.emulator.stats().submits.byMarker);
    expect(perJob.length).toBe(40);
    expect(perJob.every((n) => n === 1)).toBe(true);
    // A budget forgotten at the restart would probe afresh: a herd of refusals, one per free slot.
    expect((s.emulator.stats().errors['429'] ?? 0) - beforeRestart).toBeLessThanOrEqual(5);
  }, 180_000);
});
