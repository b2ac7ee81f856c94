/**
 * The requests at Segmind whose result renderq does not have yet, by submit time (the transition
 * script keeps them). Segmind forgets a request an hour after it finishes — its status and result
 * then answer 404 — so the oldest one's age says how close renderq is to losing a paid result.
 */
import type { RedisConnection } from '../redis/create-redis.js';
import { jobKey, requestsAtSegmindKey } from '../redis/keys.js';

/**
 * When the oldest request at Segmind without its result in hand was submitted (ms); undefined when
 * none is. An entry whose job is no longer polling (a worker of a version before the set moved it
 * on) is dropped as it is met, so a stale one never reads as an ever older request.
 */
export async function oldestRequestAtSegmind(redis: RedisConnection, prefix: string): Promise<number | undefined> {
  const key = requestsAtSegmindKey(prefix);
  for (let round = 0; round < 5; round++) {
    const oldest = await redis.zrange(key, '0', '9', 'WITHSCORES');
    if (oldest.length === 0) return undefined;
    const ids = oldest.filter((_, i) => i % 2 === 0);
    const stages = await Promise.all(ids.map((id) => redis.hget(jobKey(prefix, id), 'stage')));
    const live = stages.indexOf('polling');
    const stale = ids.slice(0, live === -1 ? ids.length : live);
    if (stale.length > 0) await redis.zrem(key, ...stale);
    if (live !== -1) return Number(oldest[live * 2 + 1]);
  }
  return undefined;
}

/**
 * The poll queue's BullMQ priority for a request submitted at `submittedAtMs`: by the minute of its
 * submit, so that when polls pile up (workers down, or too few) the requests nearest to Segmind's
 * window are polled first. BullMQ's priorities stop at 2^21: minutes wrap every four years, and
 * while requests from before a wrap remain, newer ones go ahead of them.
 */
export function pollPriority(submittedAtMs: number): number {
  return 1 + (Math.floor(submittedAtMs / 60_000) % (2 ** 21 - 2));
}

/** The priority of storing a result in hand: after every poll, whose request Segmind may forget. */
export const STORE_PRIORITY = 2 ** 21 - 1;
