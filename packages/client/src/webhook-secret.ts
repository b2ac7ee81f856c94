/**
 * The webhook secret rule, which the server's config applies too, and the signature the worker
 * signs with: @renderq/contract's. The build puts the contract's compiled module in this one's
 * place (scripts/inline-contract.mjs), so the published package needs no @renderq/contract.
 */
export {
  MIN_WEBHOOK_KEY_BYTES,
  signatureOf,
  signWebhook,
  type WebhookHeaders,
  WebhookSecretError,
  webhookSecretKey,
  webhookSecretProblem,
} from '@renderq/contract/webhook-secret';
