/**
 * Segmind's rate limit: two workers submit a backlog while the emulator answers 429
 * beyond a fixed window's allowance (5 a second; 50 a minute). 429s per job, and the
 * submit rate reached against the limit itself. The emulator's latency is 0, so the
 * submits are all there is to wait for.
 */
import { uniqueName } from '@renderq/testing';
import { type Stack, sleep, startWorker, stopChild, workerEnv } from '../processes.js';
import { benchJob, openStore, waitBatchFinished } from '../renderq.js';
import type { Row } from '../table.js';

const SECTION = 'rate limit';

export interface RateCase {
  readonly label: string;
  readonly max: number;
  readonly windowMs: number;
  /** Whole windows to fill: the run submits windows × max + 1 jobs. */
  readonly windows: number;
}

export async function rateLimits(stack: Stack, cases: readonly RateCase[]): Promise<Row[]> {
  const rows: Row[] = [];
  for (const c of cases) rows.push(...(await rateCase(stack, c)));
  await stack.emulator.configure({ submitRateLimit: null });
  return rows;
}

async function rateCase(stack: Stack, c: RateCase): Promise<Row[]> {
  await stack.emulator.configure({ latencyScale: 0, latencyJitter: 0, submitRateLimit: null });
  const prefix = uniqueName('rate');
  const env = workerEnv(stack, prefix);
  const workers = [await startWorker(env), await startWorker(env)];
  const { store, close } = openStore(stack.redis.url, prefix);
  const jobs = c.windows * c.max + 1;
  let row429: number;
  let rate: number;
  try {
    await stack.emulator.configure({ submitRateLimit: { max: c.max, windowMs: c.windowMs } });
    const before = await stack.emulator.stats();
    const created = await store.createBatch(
      { tenant: 'bench' },
      Array.from({ length: jobs }, (_, i) => benchJob(i)),
    );
    let first: number | undefined;
    let last = 0;
    const deadline = Date.now() + (c.windows + 3) * c.windowMs * 3 + 60_000;
    for (;;) {
      const accepted = (await stack.emulator.stats()).submits.accepted - before.submits.accepted;
      if (accepted > 0 && first === undefined) first = performance.now();
      if (accepted >= jobs) {
        last = performance.now();
        break;
      }
      if (Date.now() > deadline) throw new Error(`${c.label}: only ${accepted} of ${jobs} submitted in time`);
      await sleep(50);
    }
    await waitBatchFinished(store, created.batch.id, 120_000);
    const after = await stack.emulator.stats();
    row429 = ((after.errors['429'] ?? 0) - (before.errors['429'] ?? 0)) / jobs;
    rate = ((jobs - 1) / ((last - (first ?? last)) / 1000)) * (c.windowMs / 1000);
  } finally {
    await Promise.all(workers.map((w) => stopChild(w.child)));
    await close();
  }
  return [
    {
      section: SECTION,
      metric: `${c.label}, 2 workers: 429s per job`,
      renderq: row429,
      target: '≤ 0.1',
      met: row429 <= 0.1,
    },
    {
      section: SECTION,
      metric: `${c.label}, 2 workers: submits per window`,
      renderq: rate,
      baseline: c.max,
      baselineName: 'the limit',
      target: '≥ 0.9× limit',
      met: rate >= 0.9 * c.max,
    },
  ];
}
