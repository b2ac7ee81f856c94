/**
 * The API's shapes the client uses, as @renderq/contract defines them (types only: the client
 * validates nothing it receives). The build replaces this module's declarations with the same
 * types written out (scripts/inline-contract.mjs), so the published package needs neither
 * @renderq/contract nor zod.
 */
export type {
  AttemptOutcome,
  Batch,
  BatchCounts,
  BatchStatus,
  BudgetWarning,
  BulkAction,
  BulkEstimate,
  BulkFilter,
  BulkOperation,
  BulkOperationStatus,
  BulkRequest,
  CreatedBatch,
  DeliveryAttempt,
  ErrorCode,
  EventStatus,
  Job,
  JobError,
  JobEventType,
  JobInputFile,
  JobOutput,
  JobPage,
  JobStatus,
  Model,
  Problem,
  SingleJobEventType,
  WebhookEvent,
  WebhookEventType,
  WebhookPayload,
} from '@renderq/contract';
