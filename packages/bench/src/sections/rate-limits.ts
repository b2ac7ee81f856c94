/**
 * Segmind's rate limit through an operator's day: two workers keep a backlog moving while the
 * emulator's limit changes under them — windows cut on clock boundaries, every 429 naming a reset
 * 1–2 s after the window's real end, as the Segmind stand-in does. One row set per phase: submits a
 * second after the phase's first 10 s (first two windows for a per-minute limit) over the limit
 * left to renderq, 429s per job, and seconds until a trailing window first reached 90 % of it. The
 * per-minute phase runs at the same time against an emulator of its own (a key on another plan).
 */
import { uniqueName } from '@renderq/testing';
import { type Stack, sleep, startBenchEmulator, startWorker, stopChild, workerEnv } from '../processes.js';
import { benchJob, openStore } from '../renderq.js';
import type { Row } from '../table.js';

const SECTION = 'rate limit';

/** The stand-in's windows: on the clock, their 429s naming a reset 1–2 s after the window's end. */
const standIn = (max: number, windowMs: number, otherClientShare = 0) => ({
  max,
  windowMs,
  windows: 'clock',
  resetLateMs: { min: 1_000, max: 2_000 },
  otherClientShare,
});

export interface RateDay {
  /** Length of each per-second phase (the first 10 s are not counted). */
  readonly phaseMs: number;
  /** The idle spell before the "after idle" phase. */
  readonly idleMs: number;
  /** The per-minute phase: its window, and how many windows it runs (the first two not counted). */
  readonly minuteWindowMs: number;
  readonly minuteWindows: number;
}

/** What a phase measured, read from the emulator's counts every 100 ms. */
interface Phase {
  readonly samples: readonly Sample[];
  readonly start: number;
  readonly end: number;
}

interface Sample {
  readonly at: number;
  readonly accepted: number;
  readonly refused: number;
}

export async function rateLimits(stack: Stack, day: RateDay): Promise<Row[]> {
  const minuteEmulator = await startBenchEmulator();
  try {
    const [dayRows, minuteRows] = await Promise.all([
      operatorsDay(stack, day),
      perMinute({ ...stack, emulator: minuteEmulator }, day),
    ]);
    return [...dayRows, ...minuteRows];
  } finally {
    await minuteEmulator.stop();
    await stack.emulator.configure({ submitRateLimit: null });
  }
}

async function operatorsDay(stack: Stack, day: RateDay): Promise<Row[]> {
  const emulator = stack.emulator;
  await emulator.configure({ latencyScale: 0, latencyJitter: 0, submitRateLimit: null });
  const rows: Row[] = [];
  const run = await startRun(stack);
  try {
    const phase = async (limit: ReturnType<typeof standIn> | null, ms: number, backlog: number) => {
      await emulator.configure({ submitRateLimit: limit });
      return run.phase(ms, backlog);
    };
    const idleLabel = `after ${Math.round(day.idleMs / 1000)} s idle`;
    rows.push(...perSecondRows('fresh budget, 5/s', await phase(standIn(5, 1_000), day.phaseMs, 20), 5));
    await phase(standIn(40, 1_000), day.phaseMs, 200);
    rows.push(...perSecondRows('5/s after a 40/s phase', await phase(standIn(5, 1_000), day.phaseMs, 20), 5));
    await run.drain();
    await sleep(day.idleMs);
    rows.push(...perSecondRows(`5/s ${idleLabel}`, await phase(standIn(5, 1_000), day.phaseMs, 20), 5));
    rows.push(...perSecondRows('limit raised 5 → 10/s', await phase(standIn(10, 1_000), day.phaseMs, 40), 10));
    rows.push(
      ...perSecondRows(
        'another client takes half of 10/s (5/s left)',
        await phase(standIn(10, 1_000, 0.5), day.phaseMs, 20),
        5,
      ),
    );
    await phase(standIn(5, 1_000), day.phaseMs, 20);
    const lifted = await phase(null, day.phaseMs, 3_000);
    await run.stop();
    // The baseline: the same two workers on a budget that never met a limit.
    const never = await startRun(stack);
    try {
      const baseline = await never.phase(day.phaseMs, 3_000);
      rows.push(...liftedRows(lifted, baseline));
    } finally {
      await never.stop();
    }
  } finally {
    await run.stop();
  }
  return rows;
}

async function perMinute(stack: Stack, day: RateDay): Promise<Row[]> {
  await stack.emulator.configure({ latencyScale: 0, latencyJitter: 0, submitRateLimit: null });
  const run = await startRun(stack);
  try {
    await stack.emulator.configure({ submitRateLimit: standIn(50, day.minuteWindowMs) });
    const phase = await run.phase(day.minuteWindows * day.minuteWindowMs, 100);
    const minutes = day.minuteWindowMs === 60_000 ? '50/min' : `50 per ${day.minuteWindowMs / 1000} s`;
    return rowsFor(`${minutes}, clock windows, late resets`, phase, {
      perSecond: 50 / (day.minuteWindowMs / 1000),
      windowMs: day.minuteWindowMs,
      share: 0.85,
      within: 3 * day.minuteWindowMs,
      withinLabel: 'three windows',
    });
  } finally {
    await run.stop();
  }
}

/** Two workers on a prefix of their own, and a feeder that keeps a backlog waiting. */
async function startRun(stack: Stack) {
  const prefix = uniqueName('rate');
  const env = workerEnv(stack, prefix);
  const workers = [await startWorker(env), await startWorker(env)];
  const { store, close } = openStore(stack.redis.url, prefix);
  const counts = async () => {
    const stats = await stack.emulator.stats();
    return { accepted: stats.submits.accepted, refused: stats.errors['429'] ?? 0 };
  };
  const base = await counts();
  let created = 0;
  let stopped = false;
  const feed = async (backlog: number, accepted: number) => {
    const waiting = created - accepted;
    if (waiting >= backlog) return;
    const count = Math.min(1_000, 2 * backlog - waiting);
    await store.createBatch(
      { tenant: 'bench' },
      Array.from({ length: count }, (_, i) => benchJob(created + i)),
    );
    created += count;
  };
  return {
    /** Runs for `ms` keeping at least `backlog` jobs waiting; the samples cover it. */
    async phase(ms: number, backlog: number): Promise<Phase> {
      const samples: Sample[] = [];
      const start = performance.now();
      let feeding: Promise<void> = Promise.resolve();
      for (;;) {
        const now = counts();
        const at = performance.now();
        const { accepted, refused } = await now;
        samples.push({ at, accepted: accepted - base.accepted, refused: refused - base.refused });
        if (at - start >= ms) break;
        // One top-up at a time; a slow one does not hold the sampling up.
        feeding = feeding.then(() => feed(backlog, accepted - base.accepted));
        await sleep(100);
      }
      await feeding;
      return { samples, start, end: performance.now() };
    },
    /** Waits until every job created has been submitted. */
    async drain(): Promise<void> {
      while ((await counts()).accepted - base.accepted < created) await sleep(100);
    },
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      await Promise.all(workers.map((w) => stopChild(w.child)));
      await close();
    },
  };
}

interface Measure {
  /** The limit left to renderq, per second. */
  readonly perSecond: number;
  readonly windowMs: number;
  /** Share of the limit the row must reach. */
  readonly share: number;
  /** How soon it must reach 90 %. */
  readonly within: number;
  readonly withinLabel: string;
}

const perSecondRows = (label: string, phase: Phase, perSecond: number): Row[] =>
  rowsFor(label, phase, { perSecond, windowMs: 1_000, share: 0.9, within: 10_000, withinLabel: '10 s' });

function rowsFor(label: string, phase: Phase, m: Measure): Row[] {
  const skipMs = Math.max(10_000, 2 * m.windowMs);
  const rate = rateBetween(phase, phase.start + skipMs, phase.end);
  const refusedPerJob = perJob(phase);
  // A trailing window of two seconds for per-second limits, of one window for longer ones.
  const trailingMs = m.windowMs <= 1_000 ? 2_000 : m.windowMs;
  const to90 = secondsUntil(phase, trailingMs, 0.9 * m.perSecond);
  return [
    {
      section: SECTION,
      metric: `${label}: submits/s after ${skipMs / 1000} s`,
      renderq: rate,
      baseline: m.perSecond,
      baselineName: 'the limit left to renderq',
      target: `≥ ${m.share}× limit`,
      met: rate >= m.share * m.perSecond,
    },
    {
      section: SECTION,
      metric: `${label}: 429s per job`,
      renderq: refusedPerJob,
      target: '≤ 0.1',
      met: refusedPerJob <= 0.1,
    },
    {
      section: SECTION,
      metric: `${label}: s until 90 % of the limit`,
      renderq: to90,
      target: `≤ ${m.withinLabel}`,
      met: to90 !== undefined && to90 * 1000 <= m.within,
    },
  ];
}

function liftedRows(lifted: Phase, never: Phase): Row[] {
  const rate = rateBetween(lifted, lifted.start + 10_000, lifted.end);
  const baseline = rateBetween(never, never.start + 10_000, never.end);
  const to90 = secondsUntil(lifted, 2_000, 0.9 * baseline);
  const label = 'limit lifted after a 5/s phase';
  return [
    {
      section: SECTION,
      metric: `${label}: jobs/s after 10 s`,
      renderq: rate,
      baseline,
      baselineName: 'the same run with no limit ever',
      target: '≥ 0.9× baseline',
      met: rate >= 0.9 * baseline,
    },
    {
      section: SECTION,
      metric: `${label}: 429s per job`,
      renderq: perJob(lifted),
      target: '≤ 0.1',
      met: perJob(lifted) <= 0.1,
    },
    {
      section: SECTION,
      metric: `${label}: s until 90 % of the baseline`,
      renderq: to90,
      target: '≤ 10 s',
      met: to90 !== undefined && to90 <= 10,
    },
  ];
}

/** The count a sample before `at` had (the last sample at or before it). */
function countAt(phase: Phase, at: number): Sample {
  let found = phase.samples[0] as Sample;
  for (const sample of phase.samples) {
    if (sample.at > at) break;
    found = sample;
  }
  return found;
}

function rateBetween(phase: Phase, from: number, to: number): number {
  const a = countAt(phase, from);
  const b = countAt(phase, to);
  return (b.accepted - a.accepted) / ((b.at - a.at) / 1000);
}

function perJob(phase: Phase): number {
  const first = phase.samples[0] as Sample;
  const last = phase.samples.at(-1) as Sample;
  return (last.refused - first.refused) / Math.max(1, last.accepted - first.accepted);
}

/** Seconds from the phase's start until the rate over a trailing window first reached `perSecond`. */
function secondsUntil(phase: Phase, trailingMs: number, perSecond: number): number | undefined {
  for (const sample of phase.samples) {
    if (sample.at - phase.start < trailingMs) continue;
    const before = countAt(phase, sample.at - trailingMs);
    if ((sample.accepted - before.accepted) / ((sample.at - before.at) / 1000) >= perSecond) {
      return (sample.at - phase.start) / 1000;
    }
  }
  return undefined;
}
