/**
 * What a webhook receiver runs before trusting a delivery: `new WebhookVerifier(secret)`
 * checks the secret once (a bad one is a WebhookSecretError there, not a failed delivery
 * later), and `verify(headers, body)` returns the signed payload or throws
 * WebhookVerificationError — for every bad input, whatever its kind, so a receiver needs
 * one catch to answer 4xx. `verifyWebhook(secret, headers, body)` does both in one call.
 */
import { timingSafeEqual } from 'node:crypto';
import type { WebhookPayload } from './contract.js';
import { signatureOf, WebhookSecretError, webhookSecretKey } from './webhook-secret.js';

/** Why a delivery was refused. */
export type WebhookVerificationFailure =
  | 'missing_headers'
  | 'bad_timestamp'
  | 'stale_timestamp'
  | 'bad_signature'
  | 'bad_body';

/** A delivery that must not be trusted: unsigned, forged, replayed too late, or not a webhook payload. */
export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';

  constructor(
    readonly reason: WebhookVerificationFailure,
    message: string,
  ) {
    super(message);
  }
}

/** Node's header record (any case, repeated headers as arrays) or a Fetch `Headers`. */
export type WebhookRequestHeaders =
  | Readonly<Record<string, string | readonly string[] | undefined>>
  | { get(name: string): string | null };

export interface VerifyOptions {
  /** How far the timestamp may be from now. @defaultValue 300 */
  readonly toleranceSeconds?: number;
  readonly now?: Date;
}

const DEFAULT_TOLERANCE_SECONDS = 300;
const UNIX_SECONDS = /^\d{1,12}$/;

export class WebhookVerifier {
  readonly #keys: readonly Buffer[];
  readonly #toleranceSeconds: number;

  /**
   * `secret`: the `whsec_…` secret, or several while a rotation is under way (a delivery
   * signed with any of them is accepted). Throws WebhookSecretError naming what is wrong.
   */
  constructor(secret: string | readonly string[], options: Pick<VerifyOptions, 'toleranceSeconds'> = {}) {
    if (typeof secret === 'string' || !Array.isArray(secret)) {
      this.#keys = [webhookSecretKey(secret)];
    } else {
      const list: readonly unknown[] = secret;
      if (list.length === 0) throw new WebhookSecretError('no webhook secret given (an empty list)');
      this.#keys = list.map((each, index) => webhookSecretKey(each, `webhook secret ${index + 1} of ${list.length}`));
    }
    const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
    if (!Number.isFinite(tolerance) || tolerance < 0) {
      throw new RangeError(`toleranceSeconds must be a finite number ≥ 0 (got ${tolerance})`);
    }
    this.#toleranceSeconds = tolerance;
  }

  /**
   * Returns the payload of a delivery signed with the secret, or throws
   * WebhookVerificationError. `body` is the raw request body exactly as received, as text
   * or bytes, before any parsing. Header names are matched in any case; any one of several
   * space-separated `v1,` signatures may match.
   */
  verify(
    headers: WebhookRequestHeaders,
    body: string | Uint8Array,
    options: Pick<VerifyOptions, 'now'> = {},
  ): WebhookPayload {
    if (typeof body !== 'string' && !(body instanceof Uint8Array)) {
      throw new WebhookVerificationError(
        'bad_body',
        `the body must be the raw request body as a string or bytes (got ${kindOf(body)}): verify before parsing it`,
      );
    }
    const id = headerOf(headers, 'webhook-id');
    const timestamp = headerOf(headers, 'webhook-timestamp');
    const signatures = headerOf(headers, 'webhook-signature');
    const missing = [
      ['webhook-id', id],
      ['webhook-timestamp', timestamp],
      ['webhook-signature', signatures],
    ].flatMap(([name, value]) => (value ? [] : [name]));
    if (!id || !timestamp || !signatures) {
      throw new WebhookVerificationError('missing_headers', `missing webhook headers: ${missing.join(', ')}`);
    }
    if (!UNIX_SECONDS.test(timestamp)) {
      throw new WebhookVerificationError('bad_timestamp', 'webhook-timestamp is not a number of unix seconds');
    }
    const skew = (options.now ?? new Date()).getTime() / 1000 - Number(timestamp);
    // Written to fail closed: an invalid `now` (NaN) is refused too.
    if (!(Math.abs(skew) <= this.#toleranceSeconds)) {
      throw new WebhookVerificationError(
        'stale_timestamp',
        `the webhook timestamp is too old or too new (${Math.round(skew)} s ago; at most ${this.#toleranceSeconds} s either way)`,
      );
    }
    const given = signatures
      .split(' ')
      .map((entry) => /^v1,([A-Za-z0-9+/]+={0,2})$/.exec(entry)?.[1])
      .filter((value): value is string => value !== undefined)
      .map((value) => Buffer.from(value));
    if (given.length === 0) {
      throw new WebhookVerificationError('bad_signature', 'webhook-signature holds no v1 signature');
    }
    const matches = this.#keys.some((key) => {
      const expected = Buffer.from(signatureOf(key, id, timestamp, body));
      return given.some((value) => value.length === expected.length && timingSafeEqual(value, expected));
    });
    if (!matches) throw new WebhookVerificationError('bad_signature', 'no signature matches');
    return parsePayload(body);
  }
}

/**
 * Checks one delivery with `secret` (see WebhookVerifier): returns the parsed payload or
 * throws WebhookVerificationError; a secret that cannot be used throws WebhookSecretError.
 * A receiver handling many deliveries can make one WebhookVerifier and reuse it.
 */
export function verifyWebhook(
  secret: string | readonly string[],
  headers: WebhookRequestHeaders,
  body: string | Uint8Array,
  options: VerifyOptions = {},
): WebhookPayload {
  return new WebhookVerifier(secret, options).verify(headers, body, options);
}

function headerOf(headers: WebhookRequestHeaders, name: string): string | undefined {
  if (headers === null || typeof headers !== 'object') return undefined;
  let value: unknown;
  if (typeof (headers as { get?: unknown }).get === 'function') {
    value = (headers as { get(name: string): unknown }).get(name);
  } else {
    value = Object.entries(headers).find(([key]) => key.toLowerCase() === name)?.[1];
  }
  if (Array.isArray(value)) value = value[0];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The signed body as a payload; signed or not, what is not one is refused as such. */
function parsePayload(body: string | Uint8Array): WebhookPayload {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof body === 'string' ? body : utf8.decode(body));
  } catch {
    throw new WebhookVerificationError('bad_body', 'the signed body is not JSON (UTF-8)');
  }
  const payload = parsed as { type?: unknown; data?: unknown } | null;
  if (
    payload === null ||
    typeof payload !== 'object' ||
    Array.isArray(payload) ||
    typeof payload.type !== 'string' ||
    payload.data === null ||
    typeof payload.data !== 'object'
  ) {
    throw new WebhookVerificationError(
      'bad_body',
      'the signed body is not a webhook payload (an object with type and data)',
    );
  }
  return payload as WebhookPayload;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return value.constructor?.name ?? 'an object';
  return typeof value;
}
