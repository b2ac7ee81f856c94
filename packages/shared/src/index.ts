/** @renderq/shared: what the API and the worker must agree on. */

export { canonicalJson, writeCanonicalJson } from './canonical-json.js';
export { type Config, loadConfig, loadConfigOrExit, type Tenant, type WorkerConfig } from './config/config.js';
export { SETTING_NAMES } from './config/env-schema.js';
export { FailJobError, RetryLaterError, StopTakingJobsError } from './errors.js';
export type { AdmissionClaim } from './jobs/admission.js';
export type { BatchRecord } from './jobs/batch-record.js';
export type { NewBatch } from './jobs/batches.js';
export type { NewJob } from './jobs/create-jobs.js';
export { readCredits, recordCredits } from './jobs/credits.js';
export { type FairTenant, type WeightOf, weightsOf } from './jobs/fair-share.js';
export { ID_PATTERNS, newId } from './jobs/ids.js';
export { CancelledRequest, type JobEstimate, JobRecord, NO_ESTIMATE, type PublicJob } from './jobs/job-record.js';
export { JobStore } from './jobs/job-store.js';
export { type FinishingMove, failMoveFrom } from './jobs/lifecycle.js';
export { PauseControl } from './jobs/pause-control.js';
export { oldestRequestAtSegmind, pollPriority, STORE_PRIORITY } from './jobs/requests-at-segmind.js';
export { readSegmindOutage } from './jobs/segmind-outage.js';
export { microsToUsd, spendPeriodsAt, usdToMicros } from './jobs/spend.js';
export { assertNever, isFinal, JobStage, statusOf } from './jobs/stage.js';
export { type JobListFilters, TENANT_INDEX_ENTRY } from './jobs/tenant-index.js';
export type { JobChanges, StageOfMove, TransitionResult } from './jobs/transition.js';
export { type PublicBatch, publicBatch, publicJob } from './jobs/views.js';
export type { UnfinishedJobGlance } from './jobs/working-set.js';
export { describeModel, findModel, listModels, validateModelInput } from './models/catalogue.js';
export { priceOf, reservationOf } from './models/prices.js';
export {
  addressRefusal,
  assertPublicUrl,
  guardedLookup,
  type Lookup,
  PrivateAddressError,
} from './net/address-guard.js';
export { createLogger, type Logger, logFormatFor, REDACTED } from './observability/logger.js';
export type { SegmindOperation } from './observability/metric-labels.js';
export { createMetrics, type Metrics } from './observability/metrics.js';
export { readQueueDepths, readyJobCount } from './observability/queue-depths.js';
export { REDACTED_VALUE } from './observability/redact-url.js';
export { markFailed, Traces, traceLogFields, traceParentOf } from './observability/traces.js';
export { startTracing } from './observability/tracing.js';
export { bootProcess } from './process/boot.js';
export { listenProblem } from './process/listen-problem.js';
export { DEFAULT_SHUTDOWN_GRACE_MS, exitOnSignals, timedPhase } from './process/shutdown.js';
export { KEEP_COMPLETED, QUEUE_NAMES, queueOptions, WEBHOOK_JOB_OPTIONS, type WebhookJobData } from './queues.js';
export {
  closeRedis,
  connectionCopy,
  connectRedis,
  createRedis,
  isRedisUnavailable,
  pingWithin,
  type RedisConnection,
} from './redis/create-redis.js';
export {
  batchEventsKey,
  bulkOperationKey,
  bulkOperationLeaseKey,
  bulkOperationTargetsKey,
  creditsCheckLockKey,
  enqueueBucketKey,
  fairReadyKey,
  idempotencyKey,
  jobChangesChannel,
  jobEventsKey,
  jobKey,
  modelLatencyKey,
  reconcilerLockKey,
  redeliveryCooldownKey,
  runningBulkOperationsKey,
  segmindBreakerKey,
  segmindBudgetKey,
  submitRateKey,
  tenantJobsKey,
  unfinishedJobsKey,
  webhookHostKey,
} from './redis/keys.js';
export {
  glanceAtQueueJob,
  pipelineAnswers,
  type QueueJobGlance,
  readQueueJobGlance,
} from './redis/queue-job-glance.js';
export { defineScripts } from './redis/scripts.js';
export { FileStorage } from './storage/file-storage.js';
export {
  deleteStoredInputs,
  inlineImages,
  readStoredInputs,
  storeInputImages,
  withoutStoredFields,
} from './storage/input-images.js';
export { openStorage } from './storage/open-storage.js';
export { OutputLinks } from './storage/output-links.js';
export { makePrivateDir, tightenFileMode, writePrivateFile } from './storage/private-files.js';
export { sniffImageType } from './storage/sniff-image.js';
export { extensionFor, ObjectNotFoundError, type Storage } from './storage/storage.js';
export { type StorageStatus, type StorageWatch, watchStorage } from './storage/storage-watch.js';
export type { StoredInput, StoredOutput } from './storage/stored-objects.js';
export {
  type FieldIssue,
  fieldIssues,
  formatPath,
  issuesFromZod,
  parseWithMessages,
  type ValidationIssue,
} from './validation.js';
export type { HostNote } from './webhooks/event-attempts.js';
export { openWebhookQueue, WebhookEventStore, type WebhookQueue } from './webhooks/event-store.js';
export type { WebhookEventRecord } from './webhooks/events.js';
export type { PendingEventGlance } from './webhooks/pending-events.js';
