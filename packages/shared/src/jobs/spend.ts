/**
 * Each tenant's spend: what its jobs reserve when they are admitted and what Segmind charged for
 * them, by UTC day and month, in one ledger per tenant (tenantSpendKey) of whole millionths of a
 * USD, so that sums are exact and every reservation returns to zero. The scripts keep it: a job's
 * reservation joins it as the job is recorded (create-jobs-n.lua) and ends when Segmind says what the
 * job cost, when it ends unbilled, or — when Segmind may have billed it without saying — is counted
 * as spent (transition-job-10-or-14.lua, settle-cancelled-3-or-4.lua, drop-uncommitted-job-4.lua; the
 * rules are prelude/spend-ledger.lua's). A job's spend counts in the day it was admitted.
 */
import { backlogTenantsKey, tenantSpendKey } from '../redis/keys.js';
import type { StoreContext } from './store-context.js';

const MICROS_PER_USD = 1_000_000;

/** Whole millionths of a USD: what the ledger and the admission script count in. */
export function usdToMicros(usd: number): number {
  return Math.round(usd * MICROS_PER_USD);
}

export function microsToUsd(micros: number): number {
  return micros / MICROS_PER_USD;
}

/** The budget periods a moment falls in: its UTC day (YYYY-MM-DD) and month (YYYY-MM). */
export interface SpendPeriods {
  readonly day: string;
  readonly month: string;
}

export function spendPeriodsAt(ms: number): SpendPeriods {
  const iso = new Date(ms).toISOString();
  return { day: iso.slice(0, 10), month: iso.slice(0, 7) };
}

/** A period's spend, in USD: reserved by jobs not yet settled, and settled at what Segmind charged. */
interface PeriodSpend {
  readonly reservedUsd: number;
  readonly settledUsd: number;
}

export interface TenantSpend {
  readonly day: PeriodSpend;
  readonly month: PeriodSpend;
}

/** Each tenant's spend in the day and month of `periods`. */
export async function spendOf(
  ctx: StoreContext,
  tenants: readonly string[],
  periods: SpendPeriods,
): Promise<Map<string, TenantSpend>> {
  const fields = [
    `reserved:day:${periods.day}`,
    `settled:day:${periods.day}`,
    `reserved:month:${periods.month}`,
    `settled:month:${periods.month}`,
  ];
  const pipeline = ctx.redis.pipeline();
  for (const tenant of tenants) pipeline.hmget(tenantSpendKey(ctx.prefix, tenant), ...fields);
  const answers = (await pipeline.exec()) ?? [];
  const usd = (value: unknown) => microsToUsd(Number(value ?? 0) || 0);
  return new Map(
    tenants.map((tenant, i) => {
      const [dayReserved, daySettled, monthReserved, monthSettled] = (answers[i]?.[1] as (string | null)[]) ?? [];
      return [
        tenant,
        {
          day: { reservedUsd: usd(dayReserved), settledUsd: usd(daySettled) },
          month: { reservedUsd: usd(monthReserved), settledUsd: usd(monthSettled) },
        },
      ];
    }),
  );
}

/** Days and months kept in a ledger: far longer than any job lives, so no reservation is cut off. */
const KEEP_DAYS = 62;
const KEEP_MONTHS = 13;

/**
 * Deletes ledger fields of days and months long past (each tenant's ledger would otherwise grow
 * by a few fields a day). Returns how many it deleted. The reconciler runs it.
 */
export async function tidySpendLedgers(ctx: StoreContext, nowMs = Date.now()): Promise<number> {
  const oldestDay = spendPeriodsAt(nowMs - KEEP_DAYS * 86_400_000).day;
  const now = new Date(nowMs);
  const oldestMonth = spendPeriodsAt(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - KEEP_MONTHS, 1)).month;
  let deleted = 0;
  for (const tenant of await ctx.redis.smembers(backlogTenantsKey(ctx.prefix))) {
    const key = tenantSpendKey(ctx.prefix, tenant);
    const stale = (await ctx.redis.hkeys(key)).filter((field) => {
      const [, period, start = ''] = field.split(':');
      return period === 'day' ? start < oldestDay : period === 'month' ? start < oldestMonth : false;
    });
    if (stale.length > 0) deleted += await ctx.redis.hdel(key, ...stale);
  }
  return deleted;
}
