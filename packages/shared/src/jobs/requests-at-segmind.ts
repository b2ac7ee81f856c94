/**
 * The requests at Segmind whose result renderq does not have yet, by submit time (the transition
 * script keeps them). Segmind forgets a request an hour after it finishes — its status and result
 * then answer 404 — so the oldest one's age says how close renderq is to losing a paid result.
 */
import type { RedisConnection } from '../redis/create-redis.js';
import { requestsAtSegmindKey } from '../redis/keys.js';

/** When the oldest request at Segmind without its result in hand was submitted (ms); undefined when none is. */
export async function oldestRequestAtSegmind(redis: RedisConnection, prefix: string): Promise<number | undefined> {
  const [, score] = await redis.zrange(requestsAtSegmindKey(prefix), '0', '0', 'WITHSCORES');
  return score === undefined ? undefined : Number(score);
}

/**
 * The poll queue's BullMQ priority for a request submitted at `submittedAtMs`: by the minute of its
 * submit, so that when polls pile up (workers down, or too few) the requests nearest to Segmind's
 * window are polled first. BullMQ's priorities stop at 2^21: minutes wrap every four years, when
 * for a minute the order is off.
 */
export function pollPriority(submittedAtMs: number): number {
  return 1 + (Math.floor(submittedAtMs / 60_000) % (2 ** 21 - 2));
}

/** The priority of storing a result in hand: after every poll, whose request Segmind may forget. */
export const STORE_PRIORITY = 2 ** 21 - 1;
