import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../src/index.js';
import { LABEL_VALUES } from '../src/observability/metric-labels.js';
import type { QueueCounts } from '../src/observability/metric-sources.js';

const CONTRACT_METRICS = [
  'renderq_jobs_enqueued_total',
  'renderq_jobs_finished_total',
  'renderq_job_duration_seconds',
  'renderq_segmind_requests_total',
  'renderq_segmind_credits_remaining',
  'renderq_queue_jobs',
  'renderq_webhook_deliveries_total',
];

describe('metrics', () => {
  it('defines every metric of the contract on one registry', async () => {
    const metrics = createMetrics({ processMetrics: false });
    metrics.jobsEnqueued.inc({ model: 'segmind-vega' });
    metrics.jobsFinished.inc({ model: 'segmind-vega', status: 'completed' });
    metrics.jobDuration.observe({ model: 'segmind-vega' }, 12);
    metrics.segmindRequests.inc({ operation: 'submit', status_code: '200' });
    metrics.segmindRequests.inc({ operation: 'status', status_code: 'error' });
    metrics.segmindCreditsRemaining.set(42.5);
    metrics.webhookDeliveries.inc({ outcome: 'delivered' });
    const text = await metrics.registry.metrics();
    for (const name of CONTRACT_METRICS) expect(text).toContain(`# TYPE ${name} `);
    expect(text).toContain('renderq_segmind_requests_total{operation="status",status_code="error"} 1');
    expect(text).toContain('renderq_job_duration_seconds_bucket{le="20",model="segmind-vega"} 1');
  });

  it('reads queue depths when scraped', async () => {
    let scrapes = 0;
    const metrics = createMetrics({
      processMetrics: false,
      queueCounts: async () => {
        scrapes++;
        return [{ queue: 'render', counts: { waiting: 3, delayed: 5 } }];
      },
    });
    const text = await metrics.registry.metrics();
    expect(scrapes).toBe(1);
    expect(text).toContain('renderq_queue_jobs{queue="render",state="waiting"} 3');
    expect(text).toContain('renderq_queue_jobs{queue="render",state="delayed"} 5');
  });

  it('shows the credit balance last observed by anyone, and no sample before one was (never a made-up 0)', async () => {
    let balance: number | undefined;
    let failing = false;
    const metrics = createMetrics({
      processMetrics: false,
      credits: async () => {
        if (failing) throw new Error('Redis is not answering');
        return balance;
      },
    });
    const sample = async () =>
      (await metrics.registry.metrics())
        .split('\n')
        .filter((line) => line.startsWith('renderq_segmind_credits_remaining '));
    expect(await metrics.registry.metrics()).toContain('# TYPE renderq_segmind_credits_remaining gauge');
    expect(await sample()).toEqual([]);
    balance = 999.956;
    expect(await sample()).toEqual(['renderq_segmind_credits_remaining 999.956']);
    // Redis not answering: the last balance read is still the last one observed.
    failing = true;
    expect(await sample()).toEqual(['renderq_segmind_credits_remaining 999.956']);
    // Without a source, a process shows nothing until it observes a balance itself.
    expect((await createMetrics({ processMetrics: false }).registry.metrics()).split('\n')).not.toContain(
      'renderq_segmind_credits_remaining 0',
    );
  });

  it('derives requests in flight and the pause from shared state, reading queue depths once per scrape', async () => {
    let reads = 0;
    const metrics = createMetrics({ processMetrics: false, role: 'worker' });
    const before = await metrics.registry.metrics();
    expect(before).not.toMatch(/^renderq_segmind_inflight_requests /m);
    expect(before).not.toMatch(/^renderq_queue_paused\{/m);
    metrics.readFrom({
      queueCounts: async (): Promise<QueueCounts[]> => {
        reads++;
        return [
          { queue: 'render', counts: { waiting: 9 } },
          { queue: 'poll', counts: { active: 2, waiting: 1, delayed: 4, prioritized: 0, completed: 50 } },
        ];
      },
      pause: async () => ({ paused: true, reason: 'out_of_credits' }),
    });
    const text = await metrics.registry.metrics();
    expect(reads).toBe(1);
    expect(text).toContain('renderq_segmind_inflight_requests 7');
    expect(text).toContain('renderq_queue_paused{reason="out_of_credits"} 1');
    expect(text).toContain('renderq_queue_paused{reason="operator"} 0');
    expect(text).toContain('renderq_queue_jobs{queue="poll",state="delayed"} 4');
  });

  it('shows the shared Segmind submit budget once there is one', async () => {
    let budget: { perSecond: number; heldForMs: number } | undefined;
    const metrics = createMetrics({ processMetrics: false, role: 'worker', submitBudget: async () => budget });
    expect(await metrics.registry.metrics()).not.toMatch(/^renderq_segmind_submit_rate /m);
    budget = { perSecond: 4.75, heldForMs: 1_500 };
    const text = await metrics.registry.metrics();
    expect(text).toContain('renderq_segmind_submit_rate 4.75');
    expect(text).toContain('renderq_segmind_submits_held_seconds 1.5');
  });

  it('names the 20 tenants with the largest backlogs and sums the rest, so the series stay bounded', async () => {
    // 30 tenants with 1..30 unfinished jobs, and one with none.
    const backlogs = new Map([...Array.from({ length: 30 }, (_, i) => [`t${i + 1}`, i + 1] as const), ['idle', 0]]);
    const metrics = createMetrics({ processMetrics: false, role: 'api', tenantBacklogs: async () => backlogs });
    const series = (await metrics.registry.metrics())
      .split('\n')
      .filter((line) => line.startsWith('renderq_tenant_unfinished_jobs{'));
    expect(series).toHaveLength(21);
    expect(series).toContain('renderq_tenant_unfinished_jobs{tenant="t30"} 30');
    expect(series).toContain('renderq_tenant_unfinished_jobs{tenant="t11"} 11');
    expect(series.some((line) => line.includes('"t10"') || line.includes('"idle"'))).toBe(false);
    // t1..t10: 55 jobs.
    expect(series).toContain('renderq_tenant_unfinished_jobs{tenant="(others)"} 55');
    // A tenant whose jobs all finished leaves no series behind.
    backlogs.clear();
    backlogs.set('t30', 2);
    expect((await metrics.registry.metrics()).match(/^renderq_tenant_unfinished_jobs\{/gm)).toHaveLength(1);
    const worker = await createMetrics({ processMetrics: false, role: 'worker', tenantBacklogs: async () => backlogs });
    expect(await worker.registry.metrics()).not.toContain('renderq_tenant_unfinished_jobs');
  });

  it('names at most 20 tenants per worker in the per-tenant counters, the rest as (others)', async () => {
    const metrics = createMetrics({ processMetrics: false, role: 'worker' });
    for (let i = 0; i < 1_000; i++) {
      metrics.tenantSubmits.inc({ tenant: metrics.tenantLabels.label(`t${i}`) });
    }
    metrics.tenantSubmits.inc({ tenant: metrics.tenantLabels.label('t3') });
    const series = (await metrics.registry.metrics())
      .split('\n')
      .filter((line) => line.startsWith('renderq_tenant_submits_total{'));
    expect(series).toHaveLength(21);
    expect(series).toContain('renderq_tenant_submits_total{tenant="t3"} 2');
    expect(series).toContain('renderq_tenant_submits_total{tenant="(others)"} 980');
  });

  it("gives each waiting tenant's due share by weight, and its waiting jobs, from the API", async () => {
    const waiting = [
      { tenant: 'batch', waiting: 1_500, weight: 3 },
      { tenant: 'web', waiting: 2, weight: 1 },
    ];
    const metrics = createMetrics({ processMetrics: false, role: 'api', fairShare: async () => waiting });
    const text = await metrics.registry.metrics();
    expect(text).toContain('renderq_tenant_fair_share{tenant="batch"} 0.75');
    expect(text).toContain('renderq_tenant_fair_share{tenant="web"} 0.25');
    expect(text).toContain('renderq_tenant_waiting_jobs{tenant="batch"} 1500');
    const worker = await createMetrics({ processMetrics: false, role: 'worker', fairShare: async () => waiting });
    expect(await worker.registry.metrics()).not.toContain('renderq_tenant_fair_share');
  });

  it('exposes the API’s batch uploads in the API only: a worker cannot know them', async () => {
    const api = await createMetrics({ processMetrics: false, role: 'api' }).registry.metrics();
    const worker = await createMetrics({ processMetrics: false, role: 'worker' }).registry.metrics();
    expect(api).toContain('renderq_batch_uploads_in_progress 0');
    expect(worker).not.toContain('renderq_batch_uploads_in_progress');
  });

  it('keeps registries apart, so two processes in one test do not collide', () => {
    expect(() => {
      createMetrics({ processMetrics: false });
      createMetrics({ processMetrics: false });
    }).not.toThrow();
  });
});

describe('docs/metrics.md', () => {
  const docs = readFileSync(new URL('../../../docs/metrics.md', import.meta.url), 'utf8');
  /** The tables' rows, by metric: its labels cell and its meaning cell. */
  const rows = new Map(
    docs
      .split('\n')
      .filter((line) => line.startsWith('| `renderq_'))
      .map((line) => {
        const [name = '', , labels = '', meaning = ''] = line
          .split('|')
          .slice(1, -1)
          .map((cell) => cell.trim());
        return [name.replaceAll('`', ''), { labels: codeSpans(labels), meaning }] as const;
      }),
  );
  const registered = () =>
    createMetrics({ processMetrics: false })
      .registry.getMetricsAsArray()
      .map((metric) => metric as unknown as { name: string; labelNames: readonly string[] });
  /** Labels whose values are open: the model (any, in the opt-in mode), the HTTP status, BullMQ's job states, the tenant (20 named at most). */
  const OPEN_LABELS = new Set(['model', 'status_code', 'state', 'tenant']);

  it('lists every metric the code registers, and none it does not', () => {
    const names = registered().map((metric) => metric.name);
    expect(names.length).toBeGreaterThan(10);
    expect(names.filter((name) => !docs.includes(`\`${name}\``))).toEqual([]);
    expect([...rows.keys()].filter((name) => !names.includes(name))).toEqual([]);
  });

  it('is, with README and every other page of docs/, naming no metric the code does not register', () => {
    const names = new Set(registered().map((metric) => metric.name));
    const pages = readdirSync(new URL('../../../docs/', import.meta.url)).map((page) => `docs/${page}`);
    const unknown = ['README.md', ...pages].flatMap((page) => {
      const text = readFileSync(new URL(`../../../${page}`, import.meta.url), 'utf8');
      return [...text.matchAll(/\brenderq_[a-z0-9_]+/g)]
        .map((match) => match[0].replace(/_(bucket|sum|count)$/, ''))
        .filter((name) => !names.has(name))
        .map((name) => `${page}: ${name}`);
    });
    expect(unknown).toEqual([]);
  });

  it("gives each metric's labels as the code names them", () => {
    const wrong = registered().filter(
      (metric) => JSON.stringify(rows.get(metric.name)?.labels) !== JSON.stringify(metric.labelNames),
    );
    expect(wrong.map((metric) => [metric.name, metric.labelNames, rows.get(metric.name)?.labels])).toEqual([]);
  });

  it('lists every value each closed label takes, and no other', () => {
    const problems: string[] = [];
    for (const { name, labelNames } of registered()) {
      const closed: Record<string, readonly string[]> = LABEL_VALUES[name as keyof typeof LABEL_VALUES] ?? {};
      const meaning = rows.get(name)?.meaning ?? '';
      const said = codeSpans(meaning).filter((span) => /^[a-z][a-z0-9_]*$/.test(span));
      for (const label of labelNames) {
        const values = closed[label];
        if (!values) {
          if (!OPEN_LABELS.has(label)) problems.push(`${name}: label ${label} is neither closed nor open`);
        } else if (label === 'code') {
          // The error codes have a page of their own, which a test of the contract keeps whole.
          if (!meaning.includes('(errors.md)')) problems.push(`${name}: does not point to errors.md for its codes`);
        } else {
          for (const value of values) if (!said.includes(value)) problems.push(`${name}: ${label}=${value} missing`);
        }
      }
      const known = new Set([...labelNames, ...Object.values(closed).flat(), ...NOT_LABEL_VALUES]);
      for (const span of said) if (!known.has(span)) problems.push(`${name}: \`${span}\` is no value the code records`);
    }
    expect(problems).toEqual([]);
  });
});

/** Words the tables show in code that are not a closed label's value: `error`, the status_code without an answer. */
const NOT_LABEL_VALUES = ['error'];

function codeSpans(text: string): string[] {
  return [...text.matchAll(/`([^`]+)`/g)].map((match) => match[1] as string);
}
