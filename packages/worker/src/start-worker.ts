/**
 * A worker: the render queue's submit step and the poll queue's poll/store steps,
 * with everything they share, plus the background duties (recovering jobs whose
 * creator died before enqueueing them, re-queueing jobs and webhook events whose BullMQ
 * job was lost, watching credits while paused).
 */

import type { Tracer } from '@opentelemetry/api';
import {
  closeRedis,
  connectionCopy,
  createMetrics,
  JobStore,
  KEEP_COMPLETED,
  type Logger,
  type Metrics,
  OutputLinks,
  oldestRequestAtSegmind,
  openWebhookQueue,
  PauseControl,
  QUEUE_NAMES,
  queueOptions,
  type RedisConnection,
  readCredits,
  readQueueDepths,
  readSegmindOutage,
  readStoredInputs,
  recordCredits,
  type Storage,
  type StorageStatus,
  Traces,
  timedPhase,
  type WorkerConfig,
  weightsOf,
} from '@renderq/shared';
import { Queue } from 'bullmq';
import { Consumer } from './consumer.js';
import { watchCredits } from './credits-watcher.js';
import { SubmitWork, startFairRelease } from './fair-release.js';
import { InflightCount } from './pipeline/inflight-count.js';
import { OutputStore } from './pipeline/output-store.js';
import type { PipelineDeps } from './pipeline/pipeline-deps.js';
import { pollQueueStep } from './pipeline/poll-queue-step.js';
import { PollSchedule } from './pipeline/poll-schedule.js';
import { submitStep } from './pipeline/submit-step.js';
import { watchProgress } from './progress-watch.js';
import { startReconciler } from './reconciler.js';
import { RateBudget } from './segmind/rate-budget.js';
import { SegmindClient } from './segmind/segmind-client.js';
import { SubmitBreaker } from './segmind/submit-breaker.js';
import { gateOnStorage } from './storage-gate.js';
import { startSubmitRateNote } from './submit-rate-note.js';
import { startWebhookWorker } from './webhooks/webhook-worker.js';

/** Store attempts that take six days: nine doubling from 1 s (8.5 min in all), then one every 5 min. */
const STORE_ATTEMPTS_WITHIN_SIX_DAYS = 9 + Math.ceil((6 * 86_400 - 511) / 300);

export interface RunningWorker {
  readonly metrics: Metrics;
  /** Whether the latest storage check could write; the submit step waits while it cannot. */
  storageStatus(): StorageStatus;
  /** Why a queue it consumes is stalled (jobs due, none taken for WORKER_STALL_SECONDS); empty when none is. */
  stalled(): string[];
  /** The consumer of each queue it works (render, poll, webhooks). */
  readonly consumers: readonly Consumer[];
  /** Stops taking jobs, lets the steps in hand finish, and closes what it opened. */
  close(): Promise<void>;
}

export interface WorkerDependencies {
  /** Parsed with the worker's own rules: `loadConfig(env, { role: 'worker' })`. */
  readonly config: WorkerConfig;
  readonly logger: Logger;
  /** A connection made with `createRedis(url, 'worker')`. */
  readonly redis: RedisConnection;
  readonly storage: Storage;
  /** The process's tracer (startTracing); undefined: tracing is off. */
  readonly tracer?: Tracer;
}

const RECOVERY_INTERVAL_MS = 30_000;

export async function startWorker({
  config,
  logger,
  redis,
  storage,
  tracer,
}: WorkerDependencies): Promise<RunningWorker> {
  const prefix = config.redis.prefix;
  const traces = new Traces(tracer);
  // The steps' own commands (moves, reads, budget draws) share writes. BullMQ's queues and workers keep
  // `redis`: an auto-pipelined batch copies every script defined on its connection, and BullMQ defines ~65.
  const steps = connectionCopy(redis, true, 'renderq-worker-steps');
  steps.on('error', (error) => logger.error({ err: error }, 'Redis connection error'));
  const renderQueue = new Queue(QUEUE_NAMES.render, queueOptions(redis, prefix));
  const pollQueue = new Queue(QUEUE_NAMES.poll, queueOptions(redis, prefix));
  const secret = config.webhooks.secret;
  const webhooks = secret ? openWebhookQueue(redis, prefix) : undefined;
  const pause = new PauseControl(steps, prefix, renderQueue);
  // What every process shares is read from Redis when scraped: a worker and the API tell the same.
  const metrics = createMetrics({
    role: 'worker',
    queueCounts: () =>
      readQueueDepths([renderQueue, pollQueue, ...(webhooks ? [webhooks.queue] : [])], () => store.waitingForShare()),
    credits: async () => (await readCredits(redis, prefix))?.balance,
    pause: () => pause.state(),
    // Read when scraped, by then the budget exists.
    submitBudget: () => deps.budget.state(),
    segmindOutage: () => readSegmindOutage(redis, prefix),
    oldestRequestAtSegmind: () => oldestRequestAtSegmind(redis, prefix),
  });
  const segmind = new SegmindClient({
    baseUrl: config.segmind.baseUrl,
    apiKey: config.segmind.apiKey,
    timeoutMs: config.segmind.timeoutMs,
    metrics,
  });
  const store = new JobStore({
    redis: steps,
    queue: renderQueue,
    prefix,
    retentionMs: config.jobs.retentionMs,
    fairShare: config.fairShare.on,
    ...(webhooks ? { events: webhooks.events } : {}),
  });
  let closing = false;
  const deps: PipelineDeps = {
    store,
    segmind,
    budget: new RateBudget({
      redis: steps,
      prefix,
      apiKey: config.segmind.apiKey,
      ...(config.segmind.rateLimit ? { knownLimit: config.segmind.rateLimit } : {}),
    }),
    breaker: new SubmitBreaker({ redis: steps, prefix, probeTimeoutMs: config.segmind.timeoutMs + 5_000 }),
    submitWork: new SubmitWork(),
    // Segmind requests submitted and not yet finished, across all workers: the poll queue's jobs.
    inflight: new InflightCount(async () => {
      const counts = await pollQueue.getJobCounts('active', 'waiting', 'delayed', 'prioritized');
      return Object.values(counts).reduce((sum, n) => sum + n, 0);
    }),
    outputs: new OutputStore({
      storage,
      dispatcher: segmind.dispatcher,
      metrics,
      maxBytes: config.worker.outputMaxBytes,
      timeoutMs: config.segmind.timeoutMs,
    }),
    schedule: new PollSchedule({
      redis: steps,
      prefix,
      maxIntervalMs: config.worker.pollMaxIntervalMs,
      lagShare: config.worker.pollLagShare,
    }),
    pause,
    renderQueue,
    pollQueue,
    metrics,
    logger,
    traces,
    recordCredits: (balance) => recordCredits(steps, prefix, balance),
    closing: () => closing,
    readInputs: (inputs) => readStoredInputs(storage, inputs),
    settings: {
      ambiguousSubmitPolicy: config.worker.ambiguousSubmitPolicy,
      ambiguousSubmitWaitMs: config.worker.ambiguousSubmitWaitMs,
      jobDeadlineMs: config.worker.jobDeadlineMs,
      outageWaitMs: config.worker.outageWaitMs,
      resultRetentionMs: config.worker.resultRetentionMs,
      maxInflight: config.segmind.maxInflight,
      // 1 s doubling to 5 min, then every 5 min, for six days after the result: Segmind keeps the output
      // media 7 days, and an output paid for is worth waiting for through any storage outage.
      maxStoreAttempts: STORE_ATTEMPTS_WITHIN_SIX_DAYS,
      lockDurationMs: config.worker.lockDurationMs,
    },
  };
  // A killed worker's jobs come back once its lock lapses and a stall check has seen them twice: within
  // about twice the lock duration (12 s by default). Locks are renewed every half lock, so only an event
  // loop blocked that long could lose one. A high stall count keeps stalled jobs from failing.
  const workerOptions = {
    connection: redis,
    prefix,
    lockDuration: config.worker.lockDurationMs,
    stalledInterval: Math.max(1_000, Math.round(config.worker.lockDurationMs / 2)),
    maxStalledCount: 1_000,
    // After a failed fetch (Redis gone, or the blocking connection cut at shutdown) try again in a
    // second, not BullMQ's default 15 s: recovery after a Redis restart and shutdown are both that much quicker.
    runRetryDelay: 1_000,
  };
  const submitter = new Consumer(
    QUEUE_NAMES.render,
    submitStep(deps),
    {
      ...workerOptions,
      concurrency: config.worker.concurrency,
      removeOnComplete: KEEP_COMPLETED.render,
      // Nothing wakes a worker waiting on an empty queue when a rate limit (a submit slot not yet due, a
      // 429) lapses: it looks again after this many seconds rather than BullMQ's default 5.
      drainDelay: 1,
    },
    logger,
  );
  const poller = new Consumer(
    QUEUE_NAMES.poll,
    pollQueueStep(deps),
    { ...workerOptions, concurrency: config.worker.pollConcurrency, removeOnComplete: KEEP_COMPLETED.poll },
    logger,
  );
  poller.start();
  const webhookWorker = webhooks
    ? startWebhookWorker({
        config,
        secrets: config.webhooks.secrets,
        redis,
        webhooks,
        store,
        links: await OutputLinks.fromConfig(redis, config, storage),
        metrics,
        logger,
        traces,
        workerOptions,
      })
    : undefined;
  if (!secret) logger.warn('WEBHOOK_SECRET is unset: no webhooks are sent');
  const storageWatch = await gateOnStorage({
    storage,
    intervalMs: config.storageCheckIntervalMs,
    logger,
    submitter,
  });
  const progress =
    config.worker.stallMs > 0
      ? watchProgress({
          queues: [
            { consumer: submitter, queue: renderQueue },
            { consumer: poller, queue: pollQueue },
            ...(webhookWorker && webhooks ? [{ consumer: webhookWorker.consumer, queue: webhooks.queue }] : []),
          ],
          stallMs: config.worker.stallMs,
          metrics,
          logger,
        })
      : undefined;

  const recovery = setInterval(() => {
    store
      .recoverUnenqueued()
      .catch((error: unknown) => logger.warn({ err: error }, 'recovering unenqueued jobs failed'));
    webhookWorker
      ?.recover()
      .catch((error: unknown) => logger.warn({ err: error }, 'recovering unpublished webhook events failed'));
  }, RECOVERY_INTERVAL_MS);
  const fairRelease = startFairRelease({
    store,
    submitWork: deps.submitWork,
    inflightRoom: () => deps.inflight.room(config.segmind.maxInflight),
    budget: deps.budget,
    weightOf: weightsOf(config.fairShare.weights),
    logger,
    ...(config.segmind.rateLimit
      ? { knownPerSecond: (config.segmind.rateLimit.count * 1000) / config.segmind.rateLimit.windowMs }
      : {}),
  });
  const rateNote = startSubmitRateNote({ redis: steps, prefix, budget: deps.budget, logger });
  const reconciler = startReconciler({
    redis,
    prefix,
    store,
    renderQueue,
    pollQueue,
    ...(webhooks ? { webhooks } : {}),
    logger,
    metrics,
    staleMs: config.worker.reconcileAfterMs,
  });
  const credits = watchCredits({
    redis,
    recordCredits: (balance) => recordCredits(redis, prefix, balance),
    prefix,
    pause,
    segmind,
    logger,
    intervalMs: config.worker.creditsCheckIntervalMs,
  });

  return {
    metrics,
    storageStatus: () => storageWatch.status(),
    stalled: () => progress?.stalled() ?? [],
    consumers: [submitter, poller, ...(webhookWorker ? [webhookWorker.consumer] : [])],
    close: async () => {
      closing = true;
      storageWatch.stop();
      clearInterval(recovery);
      reconciler.stop();
      rateNote.stop();
      await progress?.stop();
      await fairRelease.stop();
      credits.stop();
      await timedPhase(logger, 'workers closed: steps in hand finished', () =>
        Promise.all([submitter.close(), poller.close(), webhookWorker?.close()]),
      );
      await timedPhase(logger, 'queues closed', () =>
        Promise.all([renderQueue.close(), pollQueue.close(), webhooks?.queue.close()]),
      );
      await timedPhase(logger, 'Segmind client closed', () => segmind.close());
      await deps.schedule.flush().catch(() => undefined);
      await closeRedis(steps);
    },
  };
}
