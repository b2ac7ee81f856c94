/** @renderq/client: call the renderq API, and verify the webhooks it sends. */
export {
  type CreateOptions,
  RenderqClient,
  type RenderqClientOptions,
  type StreamEvent,
  type WaitOptions,
} from './client.js';
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
} from './contract.js';
export { RenderqApiError } from './errors.js';
export type { JobFilters, ListJobsOptions, NewBatch, NewBatchJob, NewJob } from './types.js';
export {
  MIN_WEBHOOK_KEY_BYTES,
  signWebhook,
  type WebhookHeaders,
  WebhookSecretError,
  webhookSecretProblem,
} from './webhook-secret.js';
export {
  type VerifyOptions,
  verifyWebhook,
  type WebhookRequestHeaders,
  WebhookVerificationError,
  type WebhookVerificationFailure,
  WebhookVerifier,
} from './webhook-verifier.js';
