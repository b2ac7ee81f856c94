/**
 * What the worker's /healthz says (health-server.ts serves it): unavailable while Redis does not
 * answer within the probe's patience, or while a queue it consumes has due jobs it stopped taking
 * (progress-watch.ts; it has replaced that queue's BullMQ worker already, and says so).
 */
import { pingWithin, type RedisConnection } from '@renderq/shared';
import type { RunningWorker } from './start-worker.js';

/** How long /healthz and /readyz wait for Redis before answering 503. */
const HEALTH_DEADLINE_MS = 1_500;

export async function workerHealth(redis: RedisConnection, worker: Pick<RunningWorker, 'stalled'>) {
  const answer = await pingWithin(redis, HEALTH_DEADLINE_MS);
  if (!answer.ok) return { redis: redis.status, unavailable: answer.reason };
  const stalled = worker.stalled();
  return stalled.length > 0 ? { redis: 'ready', stalled, unavailable: stalled.join('; ') } : { redis: 'ready' };
}
