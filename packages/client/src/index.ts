/** @renderq/client: call the renderq API, and verify the webhooks it sends. */
export { RenderqClient, type RenderqClientOptions, type WaitOptions } from './client.js';
export { RenderqApiError } from './errors.js';
export type {
  Batch,
  BatchStatus,
  DeliveryAttempt,
  Job,
  JobEventType,
  JobOutput,
  JobStatus,
  Model,
  NewBatch,
  NewBatchJob,
  NewJob,
  Problem,
  WebhookEvent,
  WebhookEventType,
  WebhookPayload,
} from './types.js';
export {
  signWebhook,
  type VerifyOptions,
  verifyWebhook,
  type WebhookHeaders,
  WebhookVerificationError,
} from './webhook-signature.js';
