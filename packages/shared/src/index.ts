/** @renderq/shared: what the API and the worker must agree on. */

export { canonicalJson, writeCanonicalJson } from './canonical-json.js';
export {
  type Config,
  ConfigError,
  type LoadConfigOptions,
  loadConfig,
  loadConfigOrExit,
  type ProcessRole,
  type StorageConfig,
  type Tenant,
  type WorkerConfig,
} from './config/config.js';
export { SETTING_NAMES } from './config/env-schema.js';
export {
  FailJobError,
  isRenderqError,
  isRetryable,
  type RenderqError,
  RetryLaterError,
  StopTakingJobsError,
} from './errors.js';
export type { BatchRecord } from './jobs/batch-record.js';
export type { NewBatch } from './jobs/batches.js';
export type { NewJob } from './jobs/create-jobs.js';
export { type ObservedCredits, readCredits, recordCredits } from './jobs/credits.js';
export { ID_PATTERNS, newId } from './jobs/ids.js';
export {
  CancelledRequest,
  JobRecord,
  type PublicJob,
  type PublicOutput,
  toPublicJob,
} from './jobs/job-record.js';
export { JobStore, type JobStoreOptions } from './jobs/job-store.js';
export { type FinishingMove, failMoveFrom, type MoveName, TRANSITIONS } from './jobs/lifecycle.js';
export { PauseControl } from './jobs/pause-control.js';
export {
  assertNever,
  isFinal,
  JobStage,
  STATUS_OF_STAGE,
  type StageName,
  statusOf,
} from './jobs/stage.js';
export {
  type JobListFilters,
  type JobListPage,
  type JobListRequest,
  TENANT_INDEX_ENTRY,
  tenantIndexEntry,
} from './jobs/tenant-index.js';
export type { JobChanges, JobRef, StageOfMove, TransitionResult } from './jobs/transition.js';
export { type PublicBatch, publicBatch, publicJob } from './jobs/views.js';
export type { UnfinishedJobGlance } from './jobs/working-set.js';
export {
  type CatalogueOptions,
  describeModel,
  findModel,
  listModels,
  type ModelDescription,
  ModelName,
  type ValidatedInput,
  validateModelInput,
} from './models/catalogue.js';
export type { ModelDefinition, ModelKind } from './models/model-definition.js';
export {
  addressRefusal,
  assertPublicUrl,
  guardedLookup,
  hostNameRefusal,
  isPrivateAddress,
  type Lookup,
  PrivateAddressError,
  type ResolveAll,
} from './net/address-guard.js';
export {
  createLogger,
  type Logger,
  type LoggerSettings,
  logFormatFor,
  REDACTED,
  redactSecrets,
} from './observability/logger.js';
export type { ReconciledKind, SegmindOperation } from './observability/metric-labels.js';
export type { MetricSources, QueueCounts } from './observability/metric-sources.js';
export { createMetrics, type Metrics, type MetricsOptions } from './observability/metrics.js';
export { readQueueDepths, readyJobCount } from './observability/queue-depths.js';
export { REDACTED_VALUE, redactUrl } from './observability/redact-url.js';
export { type BootedProcess, bootProcess } from './process/boot.js';
export { listenProblem } from './process/listen-problem.js';
export { DEFAULT_SHUTDOWN_GRACE_MS, exitOnSignals, type ShutdownOptions, timedPhase } from './process/shutdown.js';
export {
  KEEP_COMPLETED,
  PRIORITY,
  QUEUE_NAMES,
  type QueueName,
  queueOptions,
  RENDER_JOB_OPTIONS,
  type RenderJobData,
  WEBHOOK_JOB_OPTIONS,
  type WebhookJobData,
} from './queues.js';
export {
  checkRedisDurability,
  closeRedis,
  connectionCopy,
  createRedis,
  isRedisUnavailable,
  pingWithin,
  type RedisConnection,
  type RedisDurability,
  type RedisRole,
  warnIfRedisMayLoseJobs,
} from './redis/create-redis.js';
export {
  creditsCheckLockKey,
  creditsKey,
  enqueueBucketKey,
  idempotencyKey,
  modelLatencyKey,
  pendingEventsKey,
  reconcilerLockKey,
  redeliveryCooldownKey,
  segmindBudgetKey,
  tenantJobsKey,
  unfinishedJobsKey,
  webhookHostKey,
} from './redis/keys.js';
export {
  glanceAtQueueJob,
  pipelineAnswers,
  type QueueJobGlance,
  type QueueJobPresence,
  readQueueJobGlance,
} from './redis/queue-job-glance.js';
export { defineScripts } from './redis/scripts.js';
export { FileStorage } from './storage/file-storage.js';
export {
  deleteStoredInputs,
  type InlineImage,
  inlineImages,
  readStoredInputs,
  storeInputImages,
  withoutStoredFields,
} from './storage/input-images.js';
export { openStorage } from './storage/open-storage.js';
export { OutputLinks, type OutputLinksOptions } from './storage/output-links.js';
export {
  createPrivateWriteStream,
  makePrivateDir,
  PRIVATE_DIR_MODE,
  PRIVATE_FILE_MODE,
  tightenFileMode,
  writePrivateFile,
} from './storage/private-files.js';
export { S3Storage, type S3StorageOptions } from './storage/s3-storage.js';
export { sniffImageType } from './storage/sniff-image.js';
export {
  extensionFor,
  ObjectNotFoundError,
  type Storage,
  StorageUnusableError,
  type StoredObject,
  type StoredObjectStream,
} from './storage/storage.js';
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
export { describeIssue } from './validation-messages.js';
export type { AttemptRecord, HostNote, RecordedAttempt } from './webhooks/event-attempts.js';
export {
  openWebhookQueue,
  WebhookEventStore,
  type WebhookEventStoreOptions,
  type WebhookQueue,
} from './webhooks/event-store.js';
export {
  eventIdFor,
  JOB_EVENT_TYPES,
  jobEventType,
  WEBHOOK_EVENT_TYPES,
  type WebhookEventRecord,
} from './webhooks/events.js';
export type { PendingEventGlance } from './webhooks/pending-events.js';
