/**
 * Per-tenant metrics, with bounded label values: each process gives its own `tenant` label to the
 * first NAMED_TENANTS tenants it sees and counts the rest as tenant="(others)", so a deployment with
 * 10,000 tenants is at most 21 series per metric and process. The gauges read from Redis when
 * scraped (the API's) name the tenants with the most, and sum the others likewise.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { BUDGET_PERIODS } from './metric-labels.js';
import type { MetricReadings } from './metric-sources.js';

/** Tenants a process or a scrape names. */
const NAMED_TENANTS = 20;
/** No tenant can be called this (tenant names are letters, digits, `_`, `.` and `-`). */
const OTHER_TENANTS = '(others)';

/** The label a tenant's samples carry in this process: its name while there is room, else "(others)". */
export class TenantLabels {
  readonly #named = new Set<string>();

  label(tenant: string): string {
    if (this.#named.has(tenant)) return tenant;
    if (this.#named.size >= NAMED_TENANTS) return OTHER_TENANTS;
    this.#named.add(tenant);
    return tenant;
  }
}

export const tenantQueueWait = (registers: Registry[]) =>
  new Histogram({
    name: 'renderq_tenant_queue_wait_seconds',
    help:
      'Time from a job’s creation to its submit, by tenant: what fair share decides. ' +
      `The first ${NAMED_TENANTS} tenants a worker sees are named, the rest are tenant="${OTHER_TENANTS}".`,
    labelNames: ['tenant'] as const,
    buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600],
    registers,
  });

export const tenantSubmits = (registers: Registry[]) =>
  new Counter({
    name: 'renderq_tenant_submits_total',
    help: `Submits Segmind accepted, by tenant (named as in renderq_tenant_queue_wait_seconds): each tenant's share of the submit budget.`,
    labelNames: ['tenant'] as const,
    registers,
  });

export const tenantSpend = (registers: Registry[]) =>
  new Counter({
    name: 'renderq_tenant_spend_usd_total',
    help: 'What Segmind charged, in USD, by tenant (named as in renderq_tenant_queue_wait_seconds).',
    labelNames: ['tenant'] as const,
    registers,
  });

/** Names the `count` largest of `values` and sums the rest as "(others)"; a reading of none leaves the gauge as it was. */
function setLargest(gauge: Gauge<'tenant'>, values: ReadonlyMap<string, number>): void {
  const largest = [...values].filter(([, value]) => value > 0).sort(([, a], [, b]) => b - a);
  gauge.reset();
  for (const [tenant, value] of largest.slice(0, NAMED_TENANTS)) gauge.set({ tenant }, value);
  if (largest.length > NAMED_TENANTS) {
    gauge.set(
      { tenant: OTHER_TENANTS },
      largest.slice(NAMED_TENANTS).reduce((sum, [, value]) => sum + value, 0),
    );
  }
}

/**
 * A gauge per tenant read from Redis when scraped: `read` gives each tenant's value (undefined
 * when nothing can be read, which leaves the last reading). The largest are named, the rest summed.
 */
function largestByTenant(
  registers: Registry[],
  name: string,
  help: string,
  read: () => Promise<ReadonlyMap<string, number> | undefined> | undefined,
): Gauge<'tenant'> {
  return new Gauge({
    name,
    help: `${help}: the ${NAMED_TENANTS} with the most by name, the others summed as tenant="${OTHER_TENANTS}".`,
    labelNames: ['tenant'] as const,
    registers,
    async collect() {
      // Redis not answering: the last reading stays.
      const values = await read()?.catch(() => undefined);
      if (values) setLargest(this, values);
    },
  });
}

export const tenantUnfinishedJobs = (registers: Registry[], readings: MetricReadings) =>
  largestByTenant(
    registers,
    'renderq_tenant_unfinished_jobs',
    "Each tenant's unfinished jobs (queued or running), as its backlog quota counts them",
    () => readings.sources.tenantBacklogs?.(),
  );

export const tenantWaitingJobs = (registers: Registry[], readings: MetricReadings) =>
  largestByTenant(
    registers,
    'renderq_tenant_waiting_jobs',
    "Each tenant's jobs waiting for its fair share of the submit budget (not yet on the render queue)",
    () => readings.sources.fairShare?.().then((tenants) => new Map(tenants.map((t) => [t.tenant, t.waiting]))),
  );

/** Each waiting tenant's due share, named as renderq_tenant_waiting_jobs names them. */
export const tenantFairShare = (registers: Registry[], readings: MetricReadings) =>
  largestByTenant(
    registers,
    'renderq_tenant_fair_share',
    'The share of the submit budget each tenant waiting for its share is due now: its weight over the weights of ' +
      'every tenant waiting (compare with its share of renderq_tenant_submits_total)',
    () =>
      readings.sources.fairShare?.().then((tenants) => {
        const total = tenants.reduce((sum, t) => sum + t.weight, 0);
        return new Map(tenants.map((t) => [t.tenant, t.weight / total]));
      }),
  );

/**
 * Each tenant's spend over its budget, by period (day, month): the NAMED_TENANTS nearest their
 * budgets by name, and the highest of the others as tenant="(others)". 0.8 is where a tenant's
 * `tenant.budget_warning` is sent; 1 is where its new work is refused.
 */
export const tenantBudgetUsed = (registers: Registry[], readings: MetricReadings) =>
  new Gauge({
    name: 'renderq_tenant_budget_used_ratio',
    help:
      "Each tenant's spend (reserved and settled) over its spend budget, by period (day or month, UTC): the " +
      `${NAMED_TENANTS} nearest their budgets by name, the highest of the others as tenant="${OTHER_TENANTS}".`,
    labelNames: ['tenant', 'period'] as const,
    registers,
    async collect() {
      // Redis not answering: the last reading stays.
      const values = await readings.sources.tenantBudgets?.().catch(() => undefined);
      if (!values) return;
      this.reset();
      for (const period of BUDGET_PERIODS) {
        const nearest = values.filter((v) => v.period === period).sort((a, b) => b.ratio - a.ratio);
        for (const { tenant, ratio } of nearest.slice(0, NAMED_TENANTS)) this.set({ tenant, period }, ratio);
        const others = nearest[NAMED_TENANTS];
        if (others) this.set({ tenant: OTHER_TENANTS, period }, others.ratio);
      }
    },
  });
