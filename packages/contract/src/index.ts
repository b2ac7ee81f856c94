/**
 * @renderq/contract: the public shapes of renderq's API and webhooks, each defined once as a zod
 * schema with its type inferred. The API answers and documents (OpenAPI) with these schemas, the
 * worker builds webhook bodies of these types, and @renderq/client's types are these types.
 */

/** @public — no package here uses it, but @renderq/client exports it. */
export type { BatchCounts } from './batch.js';
export { Batch, BatchStatus, CreatedBatch, MAX_BATCH_JOBS } from './batch.js';
export {
  BulkAction,
  BulkEstimate,
  BulkFilter,
  BulkOperation,
  BulkOperationStatus,
  BulkRequest,
  MAX_BULK_IDS,
  MAX_BULK_JOBS,
} from './bulk.js';
export { JobEventType, SingleJobEventType, WebhookEventType } from './event-types.js';
export { ErrorCode, Job, JobError, JobInputFile, JobOutput, JobPage, JobStatus } from './job.js';
export { AdminStatus, Model, PauseReason, PauseState, SegmindOutage } from './operations.js';
export { Problem, ProblemIssue } from './problem.js';
export { type FinishedStatus, isFinishedStatus } from './statuses.js';
/** @public — no package here uses it, but @renderq/client exports it (the body of a budget warning). */
export type { BudgetWarning } from './tenant.js';
export { TenantList, TenantSpend, TenantStatus } from './tenant.js';
export {
  AttemptOutcome,
  DeliveryAttempt,
  EventStatus,
  WebhookDeliveries,
  WebhookEvent,
  WebhookPayload,
} from './webhook.js';
export { signWebhook, webhookSecretProblem } from './webhook-secret.js';
