// Acceptance of the worker's durability: killed workers, lost submit answers, a Redis
// restart, and causes that stop every worker from taking jobs (406, 429, 401).
import { afterEach, describe, expect, it } from 'vitest';
import { jobFor, type Stack, startStack } from './stack.js';

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('a worker killed with jobs in flight', () => {
  it('leaves 200 requests at Segmind that a new worker completes, without submitting any again', async () => {
    stack = await startStack({ latencyScale: 3 }); // segmind-vega-rt-v1: about 4.5 s per request
    const s = stack;
    const first = await s.startWorker({ WORKER_CONCURRENCY: '50' });
    const ids = await s.createJobs(Array.from({ length: 200 }, (_, i) => jobFor('segmind-vega-rt-v1', `kill-${i}`)));
    await until(async () => s.emulator.stats().submits.accepted === 200, 'all 200 submitted');
    // Every request id is persisted: each job polls (or, on a loaded machine where the last submits came
    // late, has already gone on to storing or completed).
    const persisted = new Set(['polling', 'storing', 'completed']);
    await until(
      async () =>
        (await Promise.all(ids.map((id) => s.store.get(id)))).every((r) => persisted.has(r?.stage.name ?? '')),
      'every request id persisted',
    );
    first.child.kill('SIGKILL');
    await first.exited;

    const second = await s.startWorker({ WORKER_CONCURRENCY: '50' });
    const records = await s.waitForJobs(ids, 120_000);
    expect(records.map((r) => r.stage.name)).toEqual(ids.map(() => 'completed'));
    const ambiguous = await second.metric('renderq_segmind_ambiguous_submits_total');
    expect(s.emulator.stats().submits.accepted - 200).toBe(ambiguous);
    expect(ambiguous).toBe(0);
  }, 180_000);

  it('hands the jobs a killed worker held mid-submit to another worker, and submits none of them twice', async () => {
    // Segmind answers each submit after 2 s: both workers hold submits when one of them is killed.
    stack = await startStack({ latencyScale: 0.02, submitDelayMs: 2_000 });
    const s = stack;
    const doomed = await s.startWorker({ WORKER_CONCURRENCY: '10' });
    const survivor = await s.startWorker({ WORKER_CONCURRENCY: '10' });
    const ids = await s.createJobs(Array.from({ length: 40 }, (_, i) => jobFor('segmind-vega-rt-v1', `held-${i}`)));
    await until(async () => s.emulator.stats().submits.attempts >= 20, 'both workers submitting');
    doomed.child.kill('SIGKILL');
    await doomed.exited;

    const records = await s.waitForJobs(ids, 120_000);
    const failed = records.filter((r) => r.stage.name === 'failed');
    // The killed worker's submits reached Segmind but their answers died with it: ambiguous, failed by the
    // default policy; every other job completed.
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.every((r) => r.error?.code === 'segmind_ambiguous_submit')).toBe(true);
    expect(records.length - failed.length).toBe(records.filter((r) => r.stage.name === 'completed').length);
    expect(await survivor.metric('renderq_segmind_ambiguous_submits_total')).toBe(failed.length);
    // Segmind saw each job at most once.
    const perJob = Object.values(s.emulator.stats().submits.byMarker);
    expect(perJob.length).toBe(40);
    expect(perJob.every((n) => n === 1)).toBe(true);
  }, 180_000);

  it('counts submits whose answers were lost as ambiguous: submits − jobs = ambiguous submits', async () => {
    stack = await startStack({ latencyScale: 0.02, dropAfterSubmitRate: 0.25 });
    const worker = await stack.startWorker({ AMBIGUOUS_SUBMIT_POLICY: 'resubmit', SEGMIND_TIMEOUT_SECONDS: '2' });
    const ids = await stack.createJobs(Array.from({ length: 40 }, (_, i) => jobFor('segmind-vega-rt-v1', `lost-${i}`)));
    const records = await stack.waitForJobs(ids, 150_000);
    expect(records.map((r) => r.stage.name)).toEqual(ids.map(() => 'completed'));
    const ambiguous = await worker.metric('renderq_segmind_ambiguous_submits_total');
    expect(ambiguous).toBeGreaterThan(0);
    expect(stack.emulator.stats().submits.accepted - 40).toBe(ambiguous);
  }, 180_000);

  it('fails a job with a lost submit answer under the default policy, and never submits it twice', async () => {
    stack = await startStack({ latencyScale: 0.02, dropAfterSubmitRate: 1 });
    const worker = await stack.startWorker({ SEGMIND_TIMEOUT_SECONDS: '2' });
    const [id] = await stack.createJobs([jobFor('segmind-vega-rt-v1', 'lost-fail')]);
    const [record] = await stack.waitForJobs([id as string], 60_000);
    expect(record?.error?.code).toBe('segmind_ambiguous_submit');
    expect(stack.emulator.stats().submits.byMarker).toEqual({ 'lost-fail': 1 });
    expect(await worker.metric('renderq_segmind_ambiguous_submits_total')).toBe(1);
  }, 90_000);
});

describe('a worker told to stop (SIGTERM)', () => {
  it('finishes the steps in hand and exits 0; another worker completes the rest', async () => {
    stack = await startStack({ latencyScale: 0.3 });
    const s = stack;
    const first = await s.startWorker();
    const ids = await s.createJobs(Array.from({ length: 30 }, (_, i) => jobFor('segmind-vega-rt-v1', `term-${i}`)));
    await until(async () => s.emulator.stats().submits.accepted >= 10, 'some submits');
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    await s.startWorker();
    const records = await s.waitForJobs(ids, 60_000);
    expect(records.map((r) => r.stage.name)).toEqual(ids.map(() => 'completed'));
    expect(s.emulator.stats().submits.accepted).toBe(30);
  }, 90_000);
});

describe('Redis restarted mid-run', () => {
  it('completes every job', async () => {
    stack = await startStack({ latencyScale: 0.5 });
    const s = stack;
    await s.startWorker();
    const ids = await s.createJobs(Array.from({ length: 60 }, (_, i) => jobFor('segmind-vega-rt-v1', `restart-${i}`)));
    await until(async () => s.emulator.stats().submits.accepted >= 20, 'some submits');
    await s.redisServer.restart();
    const records = await s.waitForJobs(ids, 120_000);
    expect(records.map((r) => r.stage.name)).toEqual(ids.map(() => 'completed'));
  }, 180_000);
});

describe('three tenants mid-backlog through a killed worker and a Redis restart', () => {
  // Today's: a fixed day fell out of what the reconciler's tidy keeps (KEEP_DAYS) as the calendar moved
  // on, and its fields were deleted mid-test whenever the tidy ran during it.
  const SPEND_DAY = new Date().toISOString().slice(0, 10);
  it('loses nothing, submits nothing twice, still shares the submits between the tenants, and settles every reservation', async () => {
    // 10 submits a second; each tenant's 60 jobs keep all three backlogged for about 18 s.
    stack = await startStack(
      {
        latencyScale: 0.1,
        submitRateLimit: { max: 10, windowMs: 1_000, windows: 'clock', resetLateMs: { min: 0, max: 0 } },
      },
      { fairShare: true },
    );
    const s = stack;
    const env = { SEGMIND_RATE_LIMIT: '10/s', WORKER_CONCURRENCY: '10' };
    const doomed = await s.startWorker(env);
    await s.startWorker(env);
    const tenants = ['a', 'b', 'c'];
    // Created one tenant after another: first come, first served would give a's 60 jobs first.
    const ids: string[] = [];
    for (const tenant of tenants) {
      // Each reserves the model's price (the emulator charges the same), in a day of its own.
      const jobs = Array.from({ length: 60 }, (_, i) => ({
        ...jobFor('segmind-vega-rt-v1', `${tenant}-${i}`),
        tenant,
        reserveMicros: 1_500,
        spendDay: SPEND_DAY,
      }));
      ids.push(...(await s.createJobs(jobs)));
    }
    await until(async () => s.emulator.stats().submits.accepted >= 30, 'some submits');
    doomed.child.kill('SIGKILL');
    await doomed.exited;
    await s.redisServer.restart();
    const restartedAt = Date.now();
    await s.startWorker(env);

    const records = await s.waitForJobs(ids, 150_000);
    // Nothing lost: every job finished; a job the killed worker held mid-submit is failed as ambiguous
    // (the default policy), never submitted again.
    const failed = records.filter((r) => r.stage.name === 'failed');
    expect(failed.every((r) => r.error?.code === 'segmind_ambiguous_submit')).toBe(true);
    expect(records.filter((r) => r.stage.name === 'completed').length).toBe(ids.length - failed.length);
    const perJob = Object.values(s.emulator.stats().submits.byMarker);
    expect(perJob.every((n) => n === 1)).toBe(true);
    // Every completed job was submitted; one failed as ambiguous may or may not have reached Segmind
    // (the worker was killed before or after sending it).
    expect(perJob.length).toBeGreaterThanOrEqual(ids.length - failed.length);
    expect(perJob.length).toBeLessThanOrEqual(ids.length);
    // Shares afterwards: while all three still had jobs waiting, each got a good part of the submits.
    const started = records.filter((r) => r.started_at !== null && Date.parse(r.started_at) > restartedAt + 3_000);
    const lastOf = (tenant: string) =>
      Math.max(...started.filter((r) => r.tenant === tenant).map((r) => Date.parse(r.started_at as string)));
    const allWaiting = Math.min(...tenants.map(lastOf));
    const inWindow = started.filter((r) => Date.parse(r.started_at as string) < allWaiting);
    expect(inWindow.length).toBeGreaterThan(20);
    for (const tenant of tenants) {
      expect(inWindow.filter((r) => r.tenant === tenant).length, tenant).toBeGreaterThanOrEqual(0.2 * inWindow.length);
    }
    expect(await s.store.waitingForShare()).toBe(0);
    // Reservations settle: none is left reserved, and each tenant's settled spend is what Segmind
    // charged its 60 jobs (a job failed as ambiguous counts its reservation as spent).
    const spend = await s.store.spendOf(tenants, { day: SPEND_DAY, month: SPEND_DAY.slice(0, 7) });
    for (const tenant of tenants) {
      expect(spend.get(tenant), tenant).toEqual({
        day: { reservedUsd: 0, settledUsd: 0.09 },
        month: { reservedUsd: 0, settledUsd: 0.09 },
      });
    }
  }, 240_000);
});

describe('an S3 outage', () => {
  it('is waited out: outputs are stored once S3 is back, and every job completes', async () => {
    stack = await startStack({ latencyScale: 0.02 });
    const s = stack;
    await s.startWorker();
    await s.s3.kill();
    const ids = await s.createJobs(Array.from({ length: 10 }, (_, i) => jobFor('segmind-vega-rt-v1', `outage-${i}`)));
    await until(
      async () => (await Promise.all(ids.map((id) => s.store.get(id)))).every((r) => r?.stage.name === 'storing'),
      'every job to reach storing',
    );
    // Each job tries to store and fails at least once (however long a loaded machine takes to), and
    // none leaves storing while S3 is down.
    await until(
      async () =>
        (await Promise.all(ids.map((id) => s.store.get(id)))).every(
          (r) => r?.stage.name !== 'storing' || r.stage.attempts > 0,
        ),
      'every job to have tried storing',
    );
    const during = await Promise.all(ids.map((id) => s.store.get(id)));
    expect(during.every((r) => r?.stage.name === 'storing' && r.stage.attempts > 0)).toBe(true);
    await s.s3.start();
    const records = await s.waitForJobs(ids, 60_000);
    expect(records.map((r) => r.stage.name)).toEqual(ids.map(() => 'completed'));
    expect(s.emulator.stats().submits.accepted).toBe(10);
  }, 90_000);
});

describe('causes that stop every worker from taking jobs', () => {
  it('406: pauses the render queue, fails no job, and resumes by itself when credits return', async () => {
    stack = await startStack({ latencyScale: 0.02, credits: 0 });
    const s = stack;
    await s.startWorker({ CREDITS_CHECK_INTERVAL_SECONDS: '1' });
    const ids = await s.createJobs(Array.from({ length: 10 }, (_, i) => jobFor('segmind-vega-rt-v1', `credits-${i}`)));
    await until(async () => (await s.pause.state()).reason === 'out_of_credits', 'the pause');
    const paused = await s.pause.state();
    expect(paused).toMatchObject({ paused: true, reason: 'out_of_credits', message: expect.stringContaining('406') });
    // Paused, not failed: a few more credit checks come and go while the balance stays at zero.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const during = await Promise.all(ids.map((id) => s.store.get(id)));
    expect(during.map((r) => r?.stage.name)).toEqual(ids.map(() => 'queued'));
    expect(s.emulator.stats().submits.accepted).toBe(0);

    s.emulator.configure({ credits: 100 });
    const records = await s.waitForJobs(ids, 60_000);
    expect(records.map((r) => r.stage.name)).toEqual(ids.map(() => 'completed'));
    expect(await s.pause.state()).toEqual({ paused: false });
  }, 90_000);

  it('429: fails no job, and makes no submit before the reset time', async () => {
    stack = await startStack({ latencyScale: 0.02, submitRateLimit: { max: 4, windowMs: 1_500 } });
    await stack.startWorker({ WORKER_CONCURRENCY: '4' });
    const started = Date.now();
    const ids = await stack.createJobs(
      Array.from({ length: 16 }, (_, i) => jobFor('segmind-vega-rt-v1', `limited-${i}`)),
    );
    const records = await stack.waitForJobs(ids, 60_000);
    expect(records.map((r) => r.stage.name)).toEqual(ids.map(() => 'completed'));
    const stats = stack.emulator.stats();
    expect(stats.submits.accepted).toBe(16);
    // Each window answers at most the submits already on their way when the first 429 came;
    // after that every worker holds until the reset.
    const windows = Math.ceil((Date.now() - started) / 1_500) + 1;
    expect(stats.errors['429'] ?? 0).toBeGreaterThan(0);
    expect(stats.errors['429'] ?? 0).toBeLessThanOrEqual(windows * 4);
  }, 90_000);

  it('401: pauses with the reason until an operator resumes', async () => {
    stack = await startStack({ latencyScale: 0.02 });
    const s = stack;
    await s.startWorker({ SEGMIND_API_KEY: 'a-revoked-key' });
    const ids = await s.createJobs(Array.from({ length: 3 }, (_, i) => jobFor('segmind-vega-rt-v1', `unauth-${i}`)));
    await until(async () => (await s.pause.state()).paused, 'the pause');
    expect(await s.pause.state()).toMatchObject({ reason: 'unauthorized', message: expect.stringContaining('401') });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const records = await Promise.all(ids.map((id) => s.store.get(id)));
    expect(records.map((r) => r?.stage.name)).toEqual(['queued', 'queued', 'queued']);
    expect(s.emulator.stats().submits.accepted).toBe(0);
  }, 60_000);
});
