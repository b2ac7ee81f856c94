/**
 * Whether Segmind's outage breaker holds submits now, as every process reads it (the admin
 * status, the metrics): the workers open and close it (worker/src/segmind/submit-breaker.ts).
 */
import type { SegmindOutage } from '@renderq/contract';
import type { RedisConnection } from '../redis/create-redis.js';
import { segmindBreakerKey } from '../redis/keys.js';

/** The outage the breaker holds submits for, or null while it is closed. */
export async function readSegmindOutage(redis: RedisConnection, prefix: string): Promise<SegmindOutage | null> {
  const fields = await redis.hgetall(segmindBreakerKey(prefix));
  const since = Number(fields.since);
  const until = Number(fields.until);
  if (!fields.since || !Number.isFinite(since) || !Number.isFinite(until)) return null;
  return {
    since: new Date(since).toISOString(),
    next_probe_at: new Date(until).toISOString(),
    message: fields.message ?? '',
  };
}
