/**
 * Fair share between tenants: the emulator takes 5 submits a second (the Segmind stand-in's clock
 * windows; SEGMIND_RATE_LIMIT=5/s, so no run spends its start learning the limit), renders in
 * 0.3–0.6 s, two workers. Each scenario runs twice on fresh prefixes — fair share on, then off
 * (first come, first served) — and reads every job's record afterwards: when it was created and
 * when its submit started.
 *
 * Rows: each tenant's share of the submits while every tenant was backlogged over its weighted
 * share (the worst tenant's); the light tenants' wait before submit (p50, p99) beside what their
 * fair share implies — for a light tenant's n-th job, 1.2 × n ÷ (its weighted share × the limit)
 * + 1 s — and beside the same jobs on an unloaded system; and submits a second while backlogged
 * over the limit.
 */
import { uniqueName } from '@renderq/testing';
import {
  type ApiChild,
  type Stack,
  sleep,
  startApi,
  startWorker,
  stopChild,
  TENANT_KEYS,
  workerEnv,
} from '../processes.js';
import { BENCH_MODEL, benchInput, openStore, postBatch } from '../renderq.js';
import type { Row } from '../table.js';

const SECTION = 'fairness';
const LIMIT_PER_SECOND = 5;
type Tenant = keyof typeof TENANT_KEYS;

export interface FairnessSizes {
  /** How long the scenarios that measure shares keep every tenant backlogged. */
  readonly windowMs: number;
  /** The heavy tenant's backlog in skew and many-batches (the 1,500). */
  readonly heavy: number;
  /** Jobs each tenant posts in balanced and weighted (300). */
  readonly each: number;
  /** Seconds the trickle tenant posts one job a second. */
  readonly trickleSeconds: number;
  /** How long to wait for a light tenant's jobs with fair share off before reading what it waited so far. */
  readonly offCapMs: number;
}

/** One job as read back: its tenant, when it was created and when its submit started (ms). */
interface Timed {
  readonly tenant: string;
  readonly created: number;
  readonly started: number | undefined;
}

/** A scenario's run: the stack it runs on and the jobs it posted, by tenant. */
interface Run {
  readonly api: ApiChild;
  readonly posted: Map<Tenant, { batches: string[]; jobs: string[] }>;
  post(tenant: Tenant, jobs: number, priority?: number): Promise<void>;
  postOne(tenant: Tenant): Promise<void>;
  /** Every posted job's times, read now. */
  read(): Promise<Timed[]>;
}

/** Starts the API (fair share on or off, these weights) and two workers on a fresh prefix, runs `body`, stops them. */
async function withRun<T>(stack: Stack, fair: boolean, weights: string, body: (run: Run) => Promise<T>): Promise<T> {
  const prefix = uniqueName(fair ? 'fair' : 'fcfs');
  const env = { FAIR_SHARE: String(fair), TENANT_WEIGHTS: weights, SEGMIND_RATE_LIMIT: `${LIMIT_PER_SECOND}/s` };
  const [api, ...workers] = await Promise.all([
    startApi(stack, prefix, env),
    startWorker(workerEnv(stack, prefix, env)),
    startWorker(workerEnv(stack, prefix, env)),
  ]);
  const { store, close } = openStore(stack.redis.url, prefix);
  const posted = new Map<Tenant, { batches: string[]; jobs: string[] }>();
  const entry = (tenant: Tenant) => {
    const found = posted.get(tenant) ?? { batches: [], jobs: [] };
    posted.set(tenant, found);
    return found;
  };
  const run: Run = {
    api,
    posted,
    post: async (tenant, jobs, priority) => {
      entry(tenant).batches.push(
        await postBatch(api.url, jobs, { key: TENANT_KEYS[tenant], ...(priority ? { priority } : {}) }),
      );
    },
    postOne: async (tenant) => {
      const response = await fetch(`${api.url}/v1/jobs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TENANT_KEYS[tenant]}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: BENCH_MODEL, input: benchInput(0) }),
      });
      const body = (await response.json()) as { id?: string };
      if (response.status !== 202 || !body.id) throw new Error(`job answered ${response.status}`);
      entry(tenant).jobs.push(body.id);
    },
    read: async () => {
      const timed: Timed[] = [];
      const add = (record: { tenant: string; created_at: string; started_at: string | null }) =>
        timed.push({
          tenant: record.tenant,
          created: Date.parse(record.created_at),
          started: record.started_at ? Date.parse(record.started_at) : undefined,
        });
      for (const { batches, jobs } of posted.values()) {
        for (const batch of batches) for await (const record of store.batchJobs(batch, 500)) add(record);
        for (const id of jobs) {
          const record = await store.get(id);
          if (record) add(record);
        }
      }
      return timed;
    },
  };
  try {
    return await body(run);
  } finally {
    await Promise.all([api.stop(), ...workers.map((w) => stopChild(w.child)), close()]);
  }
}

export async function fairness(stack: Stack, sizes: FairnessSizes): Promise<Row[]> {
  await stack.emulator.configure({
    latencyScale: 0.15,
    latencyJitter: 0.2,
    submitRateLimit: {
      max: LIMIT_PER_SECOND,
      windowMs: 1_000,
      windows: 'clock',
      resetLateMs: { min: 1_000, max: 2_000 },
      otherClientShare: 0,
    },
  });
  try {
    return [
      ...(await sharesWhileBacklogged(stack, sizes, 'balanced: 3 tenants', '', async (run) => {
        await Promise.all((['a', 'b', 'c'] as const).map((t) => run.post(t, sizes.each)));
      })),
      ...(await sharesWhileBacklogged(stack, sizes, 'weighted: a 3, b 1', 'a:3', async (run) => {
        await Promise.all((['a', 'b'] as const).map((t) => run.post(t, sizes.each)));
      })),
      ...(await sharesWhileBacklogged(stack, sizes, 'many batches: a in 30, b in 1', '', async (run) => {
        const per = Math.ceil(sizes.heavy / 30);
        for (let i = 0; i < 30; i++) await run.post('a', per);
        await run.post('b', 50);
      })),
      ...(await skew(stack, sizes)),
      ...(await trickle(stack, sizes)),
    ];
  } finally {
    await stack.emulator.configure({ submitRateLimit: null, latencyScale: 0, latencyJitter: 0 });
  }
}

/** Every tenant's share of the submits in [from, to) over its weighted share; the worst, and submits/s over the limit. */
function shares(
  jobs: readonly Timed[],
  weights: Readonly<Record<string, number>>,
  from: number,
  to: number,
): { worst: number; perSecond: number; detail: string } {
  const tenants = [...new Set(jobs.map((j) => j.tenant))].sort();
  const counts = new Map(tenants.map((t) => [t, 0]));
  for (const job of jobs) {
    if (job.started !== undefined && job.started >= from && job.started < to) {
      counts.set(job.tenant, (counts.get(job.tenant) ?? 0) + 1);
    }
  }
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  const weightSum = tenants.reduce((sum, t) => sum + (weights[t] ?? 1), 0);
  const ratios = tenants.map((t) => (counts.get(t) ?? 0) / total / ((weights[t] ?? 1) / weightSum));
  return {
    worst: Math.min(...ratios),
    perSecond: total / ((to - from) / 1000),
    detail: tenants.map((t) => `${t} ${counts.get(t)}`).join(', '),
  };
}

/**
 * A scenario that keeps its tenants backlogged: shares are counted over a window that starts 2 s
 * after the work was posted and lasts `windowMs`, or ends sooner when a tenant's last job is
 * submitted (from then on it no longer waits, and the others rightly take its share).
 */
async function sharesWhileBacklogged(
  stack: Stack,
  sizes: FairnessSizes,
  name: string,
  weights: string,
  post: (run: Run) => Promise<void>,
): Promise<Row[]> {
  const weightOf: Record<string, number> = Object.fromEntries(
    weights
      .split(',')
      .filter(Boolean)
      .map((pair) => [pair.split(':')[0], Number(pair.split(':')[1])]),
  );
  const measure = async (fair: boolean) =>
    withRun(stack, fair, weights, async (run) => {
      await post(run);
      const from = Date.now() + 2_000;
      await sleep(2_000 + sizes.windowMs);
      const jobs = await run.read();
      let to = from + sizes.windowMs;
      for (const tenant of new Set(jobs.map((j) => j.tenant))) {
        const own = jobs.filter((j) => j.tenant === tenant);
        if (own.every((j) => j.started !== undefined && j.started < to)) {
          to = Math.min(to, Math.max(...own.map((j) => j.started as number)));
        }
      }
      return shares(jobs, weightOf, from, to);
    });
  const on = await measure(true);
  const off = await measure(false);
  return [
    {
      section: SECTION,
      metric: `${name}: worst share ÷ weighted share`,
      renderq: on.worst,
      baseline: off.worst,
      baselineName: 'first come, first served',
      target: '≥ 0.95',
      met: on.worst >= 0.95,
      note: `submits while all waited (at most ${sizes.windowMs / 1000} s): ${on.detail} (first come, first served: ${off.detail})`,
    },
    {
      section: SECTION,
      metric: `${name}: submits/s while backlogged ÷ limit`,
      renderq: on.perSecond / LIMIT_PER_SECOND,
      baseline: off.perSecond / LIMIT_PER_SECOND,
      baselineName: 'first come, first served',
      target: '≥ 0.95',
      met: on.perSecond / LIMIT_PER_SECOND >= 0.95,
    },
  ];
}

/** Waits before submit (ms) of a tenant's jobs in creation order; a job not yet submitted counts what it waited until `now`. */
function waitsOf(jobs: readonly Timed[], tenants: readonly string[], now: number): number[][] {
  return tenants.map((tenant) =>
    jobs
      .filter((j) => j.tenant === tenant)
      .sort((a, b) => a.created - b.created)
      .map((j) => (j.started ?? now) - j.created),
  );
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** What fair share implies for a light tenant's n-th job (1-based): 1.2 × n ÷ (share × limit) + 1 s, in ms. */
const fairBoundMs = (n: number, share: number) => (1.2 * n * 1000) / (share * LIMIT_PER_SECOND) + 1_000;

/** Polls until every posted job of `tenants` has started, or `capMs` has passed. */
async function untilStarted(run: Run, tenants: readonly Tenant[], capMs: number): Promise<Timed[]> {
  const deadline = Date.now() + capMs;
  for (;;) {
    const jobs = await run.read();
    const light = jobs.filter((j) => (tenants as readonly string[]).includes(j.tenant));
    if (light.every((j) => j.started !== undefined) || Date.now() > deadline) return jobs;
    await sleep(500);
  }
}

/** A light tenant's waits as rows: p50 and p99 with fair share on, off and unloaded, p99 against its bound. */
function waitRows(
  name: string,
  on: readonly number[],
  off: readonly number[],
  unloaded: readonly number[] | undefined,
  bounds: readonly number[],
  offNote: string,
): Row[] {
  const s = (ms: number) => ms / 1000;
  const bound = percentile(bounds, 99);
  const p99 = percentile(on, 99);
  return [
    {
      section: SECTION,
      metric: `${name}: light tenants' wait p50, s`,
      renderq: s(percentile(on, 50)),
      baseline: s(percentile(off, 50)),
      baselineName: 'first come, first served',
      ...(unloaded ? { note: `unloaded: ${s(percentile(unloaded, 50)).toFixed(2)} s` } : {}),
    },
    {
      section: SECTION,
      metric: `${name}: light tenants' wait p99, s`,
      renderq: s(p99),
      baseline: s(percentile(off, 99)),
      baselineName: 'first come, first served',
      target: `≤ ${s(bound).toFixed(1)} s (fair share's, ×1.2 + 1 s)`,
      met: p99 <= bound,
      note: [unloaded ? `unloaded: ${s(percentile(unloaded, 99)).toFixed(2)} s` : '', offNote]
        .filter(Boolean)
        .join('; '),
    },
  ];
}

/** Skew: a posts a large backlog at priority 1, then b and c 20 jobs each. */
async function skew(stack: Stack, sizes: FairnessSizes): Promise<Row[]> {
  const lightJobs = 20;
  const scenario = (fair: boolean, heavy: boolean, capMs: number) =>
    withRun(stack, fair, '', async (run) => {
      if (heavy) {
        await run.post('a', sizes.heavy, 1);
        await sleep(2_000);
      }
      await Promise.all([run.post('b', lightJobs), run.post('c', lightJobs)]);
      const jobs = await untilStarted(run, ['b', 'c'], capMs);
      const now = Date.now();
      const [b = [], c = []] = waitsOf(jobs, ['b', 'c'], now);
      const started = jobs.filter((j) => j.tenant !== 'a' && j.started !== undefined).length;
      // Every tenant backlogged: from the light tenants' posting until the first of them had its last job submitted.
      const postedAt = Math.min(...jobs.filter((j) => j.tenant !== 'a').map((j) => j.created));
      const lastOf = (tenant: string) =>
        Math.max(...jobs.filter((j) => j.tenant === tenant).map((j) => j.started ?? now));
      return { waits: [...b, ...c], started, share: shares(jobs, {}, postedAt, Math.min(lastOf('b'), lastOf('c'))) };
    });
  const on = await scenario(true, true, 120_000);
  const off = await scenario(false, true, sizes.offCapMs);
  const unloaded = await scenario(true, false, 120_000);
  // Three tenants backlogged: each light tenant's share is a third of the limit.
  const bounds = Array.from({ length: 2 * lightJobs }, (_, i) => fairBoundMs((i % lightJobs) + 1, 1 / 3));
  return [
    {
      section: SECTION,
      metric: `skew (a ${sizes.heavy} at priority 1, then b, c 20): worst share ÷ weighted share`,
      renderq: on.share.worst,
      baseline: off.share.worst,
      baselineName: 'first come, first served',
      target: '≥ 0.95',
      met: on.share.worst >= 0.95,
      note: `submits while a, b and c all waited: ${on.share.detail} (first come, first served: ${off.share.detail})`,
    },
    ...waitRows(
      'skew',
      on.waits,
      off.waits,
      unloaded.waits,
      bounds,
      off.started < 2 * lightJobs
        ? `first come, first served: ${2 * lightJobs - off.started} light jobs not yet submitted after ${sizes.offCapMs / 1000} s (their wait so far counted)`
        : '',
    ),
  ];
}

/** Trickle: a keeps a backlog at priority 1; b posts one job a second. */
async function trickle(stack: Stack, sizes: FairnessSizes): Promise<Row[]> {
  const scenario = (fair: boolean) =>
    withRun(stack, fair, '', async (run) => {
      await run.post('a', sizes.heavy, 1);
      await sleep(2_000);
      for (let i = 0; i < sizes.trickleSeconds; i++) {
        await Promise.all([run.postOne('b'), sleep(1_000)]);
      }
      const jobs = await untilStarted(run, ['b'], fair ? 30_000 : sizes.offCapMs - sizes.trickleSeconds * 1000);
      const now = Date.now();
      const [b = []] = waitsOf(jobs, ['b'], now);
      return { waits: b, started: jobs.filter((j) => j.tenant === 'b' && j.started !== undefined).length };
    });
  const on = await scenario(true);
  const off = await scenario(false);
  // Each of b's jobs finds none of its own ahead; b's share beside a is half the limit.
  const bounds = on.waits.map(() => fairBoundMs(1, 1 / 2));
  return waitRows(
    `trickle (a backlogged, b 1 job/s for ${sizes.trickleSeconds} s)`,
    on.waits,
    off.waits,
    undefined,
    bounds,
    off.started < off.waits.length
      ? `first come, first served: ${off.waits.length - off.started} of b's jobs not yet submitted (their wait so far counted)`
      : '',
  );
}
