/**
 * Standard Webhooks signing (docs/webhooks.md): headers `webhook-id` (one per
 * event, the same on every retry), `webhook-timestamp` (unix seconds) and
 * `webhook-signature` (`v1,` + base64 HMAC-SHA256 of `id.timestamp.body` keyed with
 * the secret's bytes). Receivers check them with WebhookVerifier (webhook-verifier.ts).
 */
import { createHmac } from 'node:crypto';
import { WebhookSecretError, webhookSecretKey } from './webhook-secret.js';

// A type, not an interface: it must be assignable to the header records verifyWebhook takes.
export type WebhookHeaders = {
  readonly 'webhook-id': string;
  readonly 'webhook-timestamp': string;
  readonly 'webhook-signature': string;
};

/** The base64 `v1` signature of one delivery; `body` as sent (text, or its exact bytes). */
export function signatureOf(key: Buffer, id: string, timestamp: string, body: string | Uint8Array): string {
  return createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64');
}

/**
 * Signs a delivery. With several secrets (a rotation under way) the header carries one
 * `v1,` signature per secret, space-separated: a receiver holding either accepts it.
 */
export function signWebhook(
  secret: string | readonly string[],
  id: string,
  body: string,
  at: Date = new Date(),
): WebhookHeaders {
  const timestamp = String(Math.floor(at.getTime() / 1000));
  const secrets = typeof secret === 'string' ? [secret] : secret;
  if (secrets.length === 0) throw new WebhookSecretError('signing a webhook needs a secret (got an empty list)');
  return {
    'webhook-id': id,
    'webhook-timestamp': timestamp,
    'webhook-signature': secrets
      .map((key) => `v1,${signatureOf(webhookSecretKey(key), id, timestamp, body)}`)
      .join(' '),
  };
}
