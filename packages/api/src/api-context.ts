/** What the routes share, built once per API process by buildApp. */

import type {
  Config,
  JobStore,
  Logger,
  Metrics,
  OutputLinks,
  PauseControl,
  RedisConnection,
  Storage,
  StorageStatus,
  Traces,
  WebhookQueue,
  WeightOf,
} from '@renderq/shared';
import type { Queue } from 'bullmq';
import type { Keyring } from './http/access.js';
import type { UploadSlots } from './http/upload-slots.js';
import type { EnqueueRate } from './services/enqueue-rate.js';
import type { FairShareNow } from './services/fair-share-reading.js';
import type { IdempotencyStore } from './services/idempotency.js';
import type { JobChanges } from './services/job-changes.js';
import type { JobEstimates } from './services/job-estimates.js';
import type { RedisMemoryGuard } from './services/memory-guard.js';
import type { ChangeViews, StreamCounts } from './services/stream-state.js';
import type { UrlGuard } from './services/url-guard.js';

export interface ApiContext {
  readonly config: Config;
  readonly logger: Logger;
  readonly redis: RedisConnection;
  readonly metrics: Metrics;
  readonly storage: Storage;
  /** Whether the latest storage check could write (readiness says so). */
  readonly storageStatus: () => StorageStatus;
  readonly store: JobStore;
  /** Each tenant's weight in the fair share (TENANT_WEIGHTS; 1 for the rest). */
  readonly weightOf: WeightOf;
  /** The tenants waiting for their fair share now (read at most once a second). */
  readonly fairShareNow: () => Promise<FairShareNow>;
  readonly renderQueue: Queue;
  readonly pollQueue: Queue;
  readonly pause: PauseControl;
  readonly links: OutputLinks;
  /** The webhooks queue and its events; undefined without WEBHOOK_SECRET (no webhooks are sent). */
  readonly webhooks: WebhookQueue | undefined;
  /** Refuses webhook and input URLs that reach private addresses. */
  readonly urlGuard: UrlGuard;
  readonly idempotency: IdempotencyStore;
  /** Tenant and operator keys: who a request's key says it is. */
  readonly keys: Keyring;
  /** Each tenant's enqueue token bucket (charged per job, shared by every API process). */
  readonly enqueueRate: EnqueueRate;
  /** Refuses new work while Redis is nearly full (REDIS_MEMORY_GUARD_PERCENT). */
  readonly memoryGuard: RedisMemoryGuard;
  /** The uploads (batches, large single jobs) this process reads at once. */
  readonly uploadSlots: UploadSlots;
  /** Jobs' changes of stage as they happen, fanned out to this process's event streams and waiting requests. */
  readonly jobChanges: JobChanges;
  /** A change's job view, read once per process for every stream showing it. */
  readonly changeViews: ChangeViews;
  /** Open event streams per tenant in this process (EVENT_STREAMS_PER_TENANT). */
  readonly streamCounts: StreamCounts;
  /** Where unfinished jobs stand: their places, expected starts and finishes. */
  readonly estimates: JobEstimates;
  /** Spans of the requests that create jobs, and the trace context their jobs keep (off: none). */
  readonly traces: Traces;
  /** Work that outlives its request (a batch's enqueue): shutdown waits for it. */
  readonly background: Set<Promise<unknown>>;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Added to the 413 for a body over the route's limit: what to send instead. */
    bodyTooLargeHint?: string;
    /** The content types the route's body may have, named in its 415. @defaultValue ['application/json'] */
    acceptedTypes?: readonly string[];
  }
}
