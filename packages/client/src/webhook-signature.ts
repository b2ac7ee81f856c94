/**
 * Standard Webhooks signing (CONTRACT.md, "Webhooks"): headers `webhook-id` (one per
 * event, the same on every retry), `webhook-timestamp` (unix seconds) and
 * `webhook-signature` (`v1,` + base64 HMAC-SHA256 of `id.timestamp.body` keyed with
 * the secret's bytes). `verifyWebhook` is what a receiver runs.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { WebhookPayload } from './types.js';

// A type, not an interface: it must be assignable to the header records verifyWebhook takes.
export type WebhookHeaders = {
  readonly 'webhook-id': string;
  readonly 'webhook-timestamp': string;
  readonly 'webhook-signature': string;
};

/** A signature that does not hold: wrong secret, changed body, or a timestamp out of tolerance. */
export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
}

/** The key bytes of a `whsec_…` secret. */
function secretKey(secret: string): Buffer {
  if (!secret.startsWith('whsec_')) throw new Error('a webhook secret starts with whsec_');
  return Buffer.from(secret.slice('whsec_'.length), 'base64');
}

function signature(key: Buffer, id: string, timestamp: string, body: string): string {
  return createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
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
  if (secrets.length === 0) throw new Error('signing a webhook needs a secret');
  return {
    'webhook-id': id,
    'webhook-timestamp': timestamp,
    'webhook-signature': secrets.map((key) => `v1,${signature(secretKey(key), id, timestamp, body)}`).join(' '),
  };
}

export interface VerifyOptions {
  /** How far the timestamp may be from now. @defaultValue 300 */
  readonly toleranceSeconds?: number;
  readonly now?: Date;
}

/**
 * Checks a delivery as a receiver should, before trusting its body: returns the
 * parsed payload (typed: it was signed with your secret), or throws
 * WebhookVerificationError. Pass the body exactly as received, before any parsing. Header names are matched in
 * any case; any one of several space-separated `v1,` signatures may match.
 */
export function verifyWebhook(
  secret: string,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  body: string,
  options: VerifyOptions = {},
): WebhookPayload {
  const header = (name: string) => {
    const entry = Object.entries(headers).find(([key]) => key.toLowerCase() === name)?.[1];
    return Array.isArray(entry) ? entry[0] : entry;
  };
  const id = header('webhook-id');
  const timestamp = header('webhook-timestamp');
  const signatures = header('webhook-signature');
  if (!id || !timestamp || !signatures) throw new WebhookVerificationError('missing webhook headers');
  const seconds = Number(timestamp);
  const now = (options.now ?? new Date()).getTime() / 1000;
  if (!Number.isInteger(seconds) || Math.abs(now - seconds) > (options.toleranceSeconds ?? 300)) {
    throw new WebhookVerificationError('the webhook timestamp is too old or too new');
  }
  const expected = Buffer.from(signature(secretKey(secret), id, timestamp, body));
  const matches = signatures.split(' ').some((candidate) => {
    const [version, value] = candidate.split(',', 2);
    if (version !== 'v1' || !value) return false;
    const given = Buffer.from(value);
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  if (!matches) throw new WebhookVerificationError('no signature matches');
  return JSON.parse(body) as WebhookPayload;
}
