/**
 * Webhook secrets and signatures as Standard Webhooks spells them. A secret is `whsec_`
 * followed by base64 of the key bytes, at least 24 of them: one rule for the server
 * (WEBHOOK_SECRET) and for receivers (the client's WebhookVerifier), so a secret one accepts
 * the other accepts too; messages say what is wrong and never repeat the secret. A delivery
 * carries `webhook-id` (one per event, the same on every retry), `webhook-timestamp` (unix
 * seconds) and `webhook-signature` (`v1,` + base64 HMAC-SHA256 of `id.timestamp.body` keyed
 * with the secret's bytes): the worker signs with `signWebhook`, the client verifies with
 * `signatureOf`. Plain TypeScript (no zod), so the published client can carry it compiled.
 */
import { createHmac } from 'node:crypto';

/** A webhook secret that cannot be used: the message says what is wrong with it. */
export class WebhookSecretError extends Error {
  override readonly name = 'WebhookSecretError';
}

const WEBHOOK_SECRET_PREFIX = 'whsec_';
/** @public — @renderq/client exports it. */
export const MIN_WEBHOOK_KEY_BYTES = 24;

// Standard base64, padded or not; a length of 4n+1 characters cannot be base64 at all.
const BASE64 = /^[A-Za-z0-9+/]*$/;

/** What is wrong with `secret` as a webhook secret, or null when it is a usable one. */
export function webhookSecretProblem(secret: unknown): string | null {
  if (typeof secret !== 'string') return `must be a string (got ${secret === null ? 'null' : typeof secret})`;
  if (secret.length === 0) return 'is empty';
  if (!secret.startsWith(WEBHOOK_SECRET_PREFIX)) return `does not start with ${WEBHOOK_SECRET_PREFIX}`;
  const encoded = secret.slice(WEBHOOK_SECRET_PREFIX.length);
  const unpadded = encoded.replace(/={1,2}$/, '');
  const padded = unpadded.length !== encoded.length;
  if (!BASE64.test(unpadded) || unpadded.length % 4 === 1 || (padded && encoded.length % 4 !== 0)) {
    return `is not base64 after ${WEBHOOK_SECRET_PREFIX}`;
  }
  const bytes = Math.floor((unpadded.length * 3) / 4);
  if (bytes < MIN_WEBHOOK_KEY_BYTES) {
    return `holds ${bytes} key bytes; at least ${MIN_WEBHOOK_KEY_BYTES} are needed`;
  }
  return null;
}

/** The key bytes of a `whsec_…` secret; throws WebhookSecretError naming what is wrong. */
export function webhookSecretKey(secret: unknown, what = 'the webhook secret'): Buffer {
  const problem = webhookSecretProblem(secret);
  if (problem) {
    throw new WebhookSecretError(
      `${what} ${problem} (expected ${WEBHOOK_SECRET_PREFIX} followed by base64 of at least ${MIN_WEBHOOK_KEY_BYTES} bytes)`,
    );
  }
  return Buffer.from((secret as string).slice(WEBHOOK_SECRET_PREFIX.length), 'base64');
}

// A type, not an interface: it must be assignable to the header records a verifier takes.
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
