/**
 * Liveness by progress (docs/operations.md, "A worker that stops taking jobs"): a worker whose
 * BullMQ worker stops taking jobs while Redis answers — its blocking connection ended after a
 * failover, the best-known way BullMQ stalls — still looks alive to a Redis ping. Each queue this
 * worker consumes is watched: jobs it could take now (ready: waiting, prioritized, delayed whose
 * time has come) and none taken for WORKER_STALL_SECONDS make it stalled. The worker then replaces
 * that queue's BullMQ worker (fresh connections), counts and logs it, and /healthz fails until it
 * takes a job again (or has nothing to take). Waiting on purpose is no stall: a consumer not yet
 * started or paused (storage unusable), one whose every slot holds a step, a paused queue (the
 * credits or operator pause), or a queue held by a rate limit.
 */
import { type Logger, type Metrics, readyJobCount } from '@renderq/shared';
import type { Queue } from 'bullmq';
import type { Consumer } from './consumer.js';

interface WatchedQueue {
  readonly consumer: Consumer;
  readonly queue: Queue;
}

export interface ProgressWatchOptions {
  readonly queues: readonly WatchedQueue[];
  readonly stallMs: number;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

export interface ProgressWatch {
  /** The queues whose consumer is stalled now, with why; empty when every one takes its jobs. */
  stalled(): string[];
  /** Stops watching; resolves once a check under way is done (it renews nothing after). */
  stop(): Promise<void>;
}

type QueueLabel = Parameters<Metrics['workerRenewals']['inc']>[0]['queue'];

interface Stall {
  readonly why: string;
  /** When it was found stalled: a job taken after this ends the stall. */
  readonly since: number;
  /** When its BullMQ worker was last replaced: the new one gets a full stall period before the next. */
  readonly renewedAt: number;
}

/** Why a consumer takes nothing now on purpose, or undefined: then it should be taking its due jobs. */
async function waitingOnPurpose(consumer: Consumer, queue: Queue, now: number): Promise<string | undefined> {
  if (consumer.holding) return 'holding';
  if (consumer.busy) return 'busy';
  if (await queue.isPaused()) return 'paused';
  if ((await queue.getRateLimitTtl()) > 0) return 'rate limited';
  if ((await readyJobCount(queue, now - 1_000)) === 0) return 'nothing due';
  // Read again last: the storage gate may have paused it, or a step taken its last slot, meanwhile.
  if (consumer.holding) return 'holding';
  if (consumer.busy) return 'busy';
  return undefined;
}

export function watchProgress(options: ProgressWatchOptions): ProgressWatch {
  const { stallMs, metrics, logger } = options;
  const stalls = new Map<string, Stall>();
  /** Since when each queue has had jobs due without a break: work that just arrived is no stall. */
  const dueSince = new Map<string, number>();
  let stopped = false;
  let checking: Promise<void> | undefined;
  let warnedAt = 0;

  const renew = (consumer: Consumer, name: QueueLabel, why: string) => {
    if (stopped) return;
    metrics.workerRenewals.inc({ queue: name });
    logger.warn({ queue: name }, `${why}: replacing its BullMQ worker (fresh connections)`);
    consumer.renew();
  };

  const check = async ({ consumer, queue }: WatchedQueue, now: number) => {
    const name = consumer.queueName as QueueLabel;
    const stall = stalls.get(name);
    if (stall && consumer.lastTakenAt > stall.since) {
      stalls.delete(name);
      dueSince.delete(name);
      metrics.workerStalled.set({ queue: name }, 0);
      logger.info({ queue: name }, 'the worker takes jobs again');
      return;
    }
    const waiting = await waitingOnPurpose(consumer, queue, now);
    if (waiting) {
      dueSince.delete(name);
      if (stalls.delete(name)) {
        metrics.workerStalled.set({ queue: name }, 0);
        logger.info({ queue: name, why: waiting }, 'no longer counted as stalled: it has nothing to take now');
      }
      return;
    }
    if (stall) {
      // Replaced, and still nothing taken: another try once the new one has had its time.
      if (now - stall.renewedAt >= stallMs) {
        stalls.set(name, { ...stall, renewedAt: now });
        renew(consumer, name, stall.why);
      }
      return;
    }
    const due = dueSince.get(name) ?? now;
    dueSince.set(name, due);
    const idleFrom = Math.max(due, consumer.lastTakenAt);
    if (now - idleFrom < stallMs) return;
    const seconds = Math.round((now - idleFrom) / 1000);
    const why = `the ${name} queue has jobs due and this worker has taken none for ${seconds} s`;
    stalls.set(name, { why, since: now, renewedAt: now });
    metrics.workerStalled.set({ queue: name }, 1);
    renew(consumer, name, why);
  };

  const timer = setInterval(
    () => {
      if (checking || stopped) return;
      const now = Date.now();
      checking = Promise.all(options.queues.map((watched) => check(watched, now)))
        .then(() => undefined)
        .catch((error: unknown) => {
          // What it could not see is not counted as due: a Redis outage is not a stall.
          dueSince.clear();
          if (Date.now() - warnedAt > 60_000) {
            warnedAt = Date.now();
            logger.warn({ err: error }, 'could not check the queues for progress');
          }
        })
        .finally(() => {
          checking = undefined;
        });
    },
    Math.max(250, Math.floor(stallMs / 10)),
  );
  timer.unref();
  for (const { consumer } of options.queues) metrics.workerStalled.set({ queue: consumer.queueName as QueueLabel }, 0);

  return {
    stalled: () => [...stalls.values()].map((stall) => stall.why),
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await checking;
    },
  };
}
