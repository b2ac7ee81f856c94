// The pipeline's dependencies for tests that run a step in the test's own process, against a real
// Redis and queue: the store, budget, schedule and settings a worker would have, with Segmind, the
// outputs and anything else a test cares about given by the test.
import { createMetrics, JobStore, PauseControl, Traces } from '@renderq/shared';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { SubmitWork } from '../src/fair-release.js';
import { InflightCount } from '../src/pipeline/inflight-count.js';
import type { OutputStore } from '../src/pipeline/output-store.js';
import type { PipelineDeps } from '../src/pipeline/pipeline-deps.js';
import { PollSchedule } from '../src/pipeline/poll-schedule.js';
import { RateBudget } from '../src/segmind/rate-budget.js';
import type { SegmindClient } from '../src/segmind/segmind-client.js';
import { SubmitBreaker } from '../src/segmind/submit-breaker.js';

export function inProcessDeps(
  redis: Redis,
  prefix: string,
  queue: Queue,
  given: Partial<PipelineDeps> = {},
): PipelineDeps {
  return {
    store: new JobStore({ redis, queue, prefix }),
    segmind: {} as SegmindClient,
    budget: new RateBudget({ redis, prefix, apiKey: 'unused' }),
    inflight: new InflightCount(async () => 0),
    breaker: new SubmitBreaker({ redis, prefix, probeTimeoutMs: 10_000 }),
    submitWork: new SubmitWork(),
    outputs: {} as OutputStore,
    schedule: new PollSchedule({ redis, prefix, maxIntervalMs: 1_000 }),
    pause: new PauseControl(redis, prefix, queue),
    renderQueue: queue,
    pollQueue: queue,
    metrics: createMetrics({ processMetrics: false }),
    logger: pino({ level: 'silent' }),
    traces: new Traces(undefined),
    settings: {
      ambiguousSubmitPolicy: 'fail',
      ambiguousSubmitWaitMs: 60_000,
      jobDeadlineMs: 60_000,
      outageWaitMs: 3_600_000,
      resultRetentionMs: 3_600_000,
      maxInflight: 100,
      maxStoreAttempts: 3,
      lockDurationMs: 30_000,
    },
    recordCredits: async () => {},
    closing: () => false,
    readInputs: async () => ({}),
    ...given,
  };
}
