/**
 * The webhook secret rule, which the server's config applies too: @renderq/contract's. The build
 * puts the contract's compiled module in this one's place (scripts/inline-contract.mjs), so the
 * published package needs no @renderq/contract.
 */
export {
  MIN_WEBHOOK_KEY_BYTES,
  WebhookSecretError,
  webhookSecretKey,
  webhookSecretProblem,
} from '@renderq/contract/webhook-secret';
