// Segmind forgets a request (its status and result answer 404) an hour after it finishes. Workers
// stopped with requests at Segmind: back within the window, every result is fetched (the oldest
// requests polled first); back after it, each such job ends `segmind_expired` with its price
// counted as spent, and the oldest request's age says so beforehand.
import { oldestRequestAtSegmind, spendPeriodsAt } from '@renderq/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { jobFor, type Stack, startStack } from './stack.js';

let stack: Stack | undefined;

afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Scaled from Segmind's hour: a window of 20 s, workers away 12 s within it or 28 s past it. Set
// RETENTION_WINDOW_SECONDS=60 RETENTION_STOP_SECONDS=50 RETENTION_JOBS=500 RETENTION_LATENCY_SCALE=10 for the figures that
// docs/operations.md reports.
const WINDOW_MS = Number(process.env.RETENTION_WINDOW_SECONDS ?? 20) * 1000;
const STOP_MS = Number(process.env.RETENTION_STOP_SECONDS ?? 12) * 1000;
const JOBS = Number(process.env.RETENTION_JOBS ?? 100);
/** Each request takes 1.5 s times this at Segmind (6 s): long enough for every job to be submitted first. */
const LATENCY_SCALE = Number(process.env.RETENTION_LATENCY_SCALE ?? 4);
/** The workers know the window, as they would Segmind's hour. */
const WORKER_ENV = { SEGMIND_RESULT_RETENTION_SECONDS: String(WINDOW_MS / 1000) };
/** What each job reserves of its tenant's spend, as the API would reserve its price (USD 0.0015). */
const RESERVE_MICROS = 1_500;

/** Starts a worker, lets it submit every job, and stops it while the requests are still at Segmind. */
async function submitThenStop(s: Stack, tag: string): Promise<{ ids: string[]; stoppedAt: number }> {
  const worker = await s.startWorker(WORKER_ENV);
  const ids = await s.createJobs(
    Array.from({ length: JOBS }, (_, i) => ({
      ...jobFor('segmind-vega-rt-v1', `${tag}-${i}`),
      reserveMicros: RESERVE_MICROS,
    })),
  );
  for (let i = 0; i < 600; i++) {
    const stages = await Promise.all(ids.map(async (id) => (await s.store.get(id))?.stage.name));
    if (stages.every((stage) => stage === 'polling')) break;
    expect(stages.filter((stage) => stage !== 'queued' && stage !== 'submitting' && stage !== 'polling')).toEqual([]);
    await sleep(50);
  }
  await worker.stop();
  return { ids, stoppedAt: Date.now() };
}

describe("Segmind's retention window", () => {
  it('loses nothing when workers come back within it, and tells the oldest request’s age meanwhile', async () => {
    stack = await startStack({ latencyScale: LATENCY_SCALE, resultTtlMs: WINDOW_MS });
    const s = stack;
    const { ids, stoppedAt } = await submitThenStop(s, 'within');
    const oldest = await oldestRequestAtSegmind(s.redis, s.prefix);
    expect(oldest).toBeDefined();
    await sleep(Math.max(0, STOP_MS - (Date.now() - stoppedAt)));
    const ageAtRestart = (Date.now() - (oldest as number)) / 1000;
    const restarted = Date.now();
    await s.startWorker(WORKER_ENV);
    const records = await s.waitForJobs(ids, 120_000);
    process.stdout.write(
      `workers away ${STOP_MS / 1000} s with ${JOBS} requests at Segmind (window ${WINDOW_MS / 1000} s, oldest ` +
        `${ageAtRestart.toFixed(1)} s old at restart): ${records.filter((r) => r.stage.name === 'completed').length} ` +
        `completed ${((Date.now() - restarted) / 1000).toFixed(1)} s after\n`,
    );
    expect(records.map((r) => r.stage.name)).toEqual(ids.map(() => 'completed'));
    expect(Object.values(s.emulator.stats().submits.byMarker)).toEqual(ids.map(() => 1));
    // None left at Segmind without its result.
    expect(await oldestRequestAtSegmind(s.redis, s.prefix)).toBeUndefined();
  }, 240_000);

  it('ends each job it forgot segmind_expired, its price spent and counted, when workers come back after it', async () => {
    stack = await startStack({ latencyScale: LATENCY_SCALE, resultTtlMs: WINDOW_MS });
    const s = stack;
    const { ids } = await submitThenStop(s, 'past');
    // Past the window: the last request finishes within its latency, then is kept WINDOW_MS.
    await sleep(WINDOW_MS + 1_500 * LATENCY_SCALE + 2_000);
    const worker = await s.startWorker(WORKER_ENV);
    const records = await s.waitForJobs(ids, 120_000);
    for (const record of records) {
      expect(record.stage).toMatchObject({ name: 'failed', error: { code: 'segmind_expired' } });
    }
    expect(await worker.metric('renderq_jobs_failed_total')).toBe(JOBS);
    // Segmind ran and billed them: what each reserved counts as spent.
    const spend = (await s.store.spendOf(['test'], spendPeriodsAt(Date.now()))).get('test');
    expect(spend?.day.reservedUsd).toBe(0);
    expect(spend?.day.settledUsd).toBeCloseTo((JOBS * RESERVE_MICROS) / 1e6, 6);
    expect(await oldestRequestAtSegmind(s.redis, s.prefix)).toBeUndefined();
  }, 240_000);
});
