/**
 * The last Segmind credit balance a worker saw, kept in Redis so that every process
 * tells the same: operators (GET /v1/admin/status) and the credits gauge of every
 * process's /metrics read it from here.
 */
import type { RedisConnection } from '../redis/create-redis.js';
import { creditsKey } from '../redis/keys.js';

interface ObservedCredits {
  readonly balance: number;
  /** ISO 8601. */
  readonly observed_at: string;
}

export async function recordCredits(redis: RedisConnection, prefix: string, balance: number): Promise<void> {
  const observed: ObservedCredits = { balance, observed_at: new Date().toISOString() };
  await redis.set(creditsKey(prefix), JSON.stringify(observed));
}

/** The last balance observed by any worker; undefined while none has been. */
export async function readCredits(redis: RedisConnection, prefix: string): Promise<ObservedCredits | undefined> {
  const raw = await redis.get(creditsKey(prefix));
  if (!raw) return undefined;
  const parsed = JSON.parse(raw) as Partial<ObservedCredits>;
  return typeof parsed.balance === 'number' && typeof parsed.observed_at === 'string'
    ? { balance: parsed.balance, observed_at: parsed.observed_at }
    : undefined;
}
