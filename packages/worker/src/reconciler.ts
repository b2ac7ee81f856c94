/**
 * The last line of "never lose a job": BullMQ jobs can disappear behind renderq's back —
 * a queue emptied or a job removed from a dashboard, a Redis failover at the wrong
 * moment — while the records say a job is queued or working, or a webhook event pending.
 * Every period one worker (a Redis lock) walks the jobs and events that have gone a
 * while without moving, oldest first, checks them against BullMQ in pipelined pages
 * (reconciler/lost-jobs.ts, reconciler/lost-events.ts), and queues again, under the same
 * ids, the few whose BullMQ job is gone or finished. Each is logged and counted in
 * `renderq_reconciler_requeued_total{kind}`.
 */

import type { JobStore, RedisConnection } from '@renderq/shared';
import { type Logger, type Metrics, reconcilerLockKey, type WebhookQueue } from '@renderq/shared';
import type { Queue } from 'bullmq';
import { reconcileLostEvents } from './reconciler/lost-events.js';
import { reconcileLostJobs } from './reconciler/lost-jobs.js';
import { emptyReport, type PassReport } from './reconciler/pass.js';

export interface ReconcilerOptions {
  readonly redis: RedisConnection;
  readonly prefix: string;
  readonly store: JobStore;
  readonly renderQueue: Queue;
  readonly pollQueue: Queue;
  /** Unset where webhooks are off: no events are checked. */
  readonly webhooks?: WebhookQueue;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** A job or event that has not moved (nor been checked) for this long is checked; one round runs every half of it. */
  readonly staleMs: number;
  /** Jobs or events checked per round trip. @defaultValue 1000 */
  readonly pageSize?: number;
  /** Pages of jobs, and of events, per round: the bound on one round's work. @defaultValue 5 */
  readonly maxPages?: number;
}

interface ReconcileReport {
  /** False when another worker holds this period's lock (or a round is still running here). */
  readonly ran: boolean;
  readonly jobs: PassReport;
  readonly events: PassReport;
}

export interface RunningReconciler {
  stop(): void;
  /** One round now (as the timer runs it). */
  runOnce(): Promise<ReconcileReport>;
}

/** Spend ledgers gain a few fields a day: a pass an hour keeps them short. */
const SPEND_TIDY_PERIOD_MS = 60 * 60_000;

export function startReconciler(options: ReconcilerOptions): RunningReconciler {
  const { redis, logger, staleMs } = options;
  const lockKey = reconcilerLockKey(options.prefix);
  const periodMs = Math.max(1_000, Math.round(staleMs / 2));
  const passOptions = { staleMs, pageSize: options.pageSize ?? 1_000, maxPages: options.maxPages ?? 5 };
  let running = false;
  let spendTidiedAt = 0;

  const runOnce = async (): Promise<ReconcileReport> => {
    const skipped = { ran: false, jobs: emptyReport(), events: emptyReport() };
    if (running) return skipped;
    running = true;
    try {
      if ((await redis.set(lockKey, String(process.pid), 'PX', periodMs, 'NX')) !== 'OK') return skipped;
      const jobs = await reconcileLostJobs(options, passOptions);
      // Jobs finished by a worker of a version before backlog quotas, or lost: off their tenants' counts.
      const tidied = await options.store.tidyBacklogs(passOptions.pageSize * passOptions.maxPages);
      if (tidied > 0) logger.info({ jobs: tidied }, "took finished jobs off their tenants' backlog counts");
      if (Date.now() - spendTidiedAt >= SPEND_TIDY_PERIOD_MS) {
        spendTidiedAt = Date.now();
        await options.store.tidySpendLedgers();
      }
      const healed = await options.store.healFairShare();
      if (healed > 0)
        logger.warn({ tenants: healed }, 'put tenants with jobs waiting back among those served by fair share');
      const events = options.webhooks
        ? await reconcileLostEvents({ ...options, webhooks: options.webhooks }, passOptions)
        : emptyReport();
      return { ran: true, jobs, events };
    } finally {
      running = false;
    }
  };

  const timer = setInterval(() => {
    runOnce().catch((error: unknown) => logger.warn({ err: error }, 'reconciling jobs and webhook events failed'));
  }, periodMs);
  return { stop: () => clearInterval(timer), runOnce };
}
