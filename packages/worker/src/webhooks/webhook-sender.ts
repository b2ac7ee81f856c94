/**
 * One webhook POST, as docs/webhooks.md counts it: delivered on any 2xx within the
 * timeout; redirects are not followed (a 3xx is a failed attempt); at most a few KiB
 * of the answer are read. Unless private addresses are allowed, every address the
 * socket connects to is checked as it connects (the name was checked at enqueue; DNS
 * may have changed since), and an IP literal, which is never looked up, before that.
 */
import { isIP } from 'node:net';
import { addressRefusal, guardedLookup, PrivateAddressError } from '@renderq/shared';
import { Agent, errors, request } from 'undici';

export interface WebhookSenderOptions {
  readonly timeoutMs: number;
  readonly allowPrivate: boolean;
  /** Bytes of an answer read before the rest is dropped. @defaultValue 16384 */
  readonly maxResponseBytes?: number;
}

/** What one attempt came to. `statusCode` is null when no answer came. */
export type SendResult =
  | { readonly kind: 'answered'; readonly statusCode: number; readonly durationMs: number; readonly excerpt: string }
  | { readonly kind: 'refused'; readonly durationMs: number; readonly error: string }
  | { readonly kind: 'no_answer'; readonly durationMs: number; readonly error: string };

const EXCERPT_CHARS = 200;

export class WebhookSender {
  readonly #dispatcher: Agent;
  readonly #options: WebhookSenderOptions;
  readonly #maxResponseBytes: number;

  constructor(options: WebhookSenderOptions) {
    this.#options = options;
    this.#maxResponseBytes = options.maxResponseBytes ?? 16_384;
    this.#dispatcher = new Agent({
      connect: {
        timeout: options.timeoutMs,
        ...(options.allowPrivate ? {} : { lookup: guardedLookup() }),
      },
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      // Receivers are many and each gets little: keep idle sockets briefly. No cap per host: a request
      // queued for a socket would spend its timeout unsent; WEBHOOK_CONCURRENCY bounds what is in flight.
      keepAliveTimeout: 4_000,
    });
  }

  async send(url: string, headers: Readonly<Record<string, string>>, body: string): Promise<SendResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
    const refusal = !this.#options.allowPrivate && isIP(host) ? addressRefusal(host) : null;
    if (refusal) return { kind: 'refused', durationMs: elapsed(), error: `${host} is a private address (${refusal})` };
    const signal = AbortSignal.timeout(this.#options.timeoutMs);
    try {
      const answer = await request(url, { method: 'POST', headers, body, dispatcher: this.#dispatcher, signal });
      const excerpt = await readCapped(answer.body, this.#maxResponseBytes).catch(() => '');
      return { kind: 'answered', statusCode: answer.statusCode, durationMs: elapsed(), excerpt };
    } catch (error) {
      return describeFailure(error, elapsed(), this.#options.timeoutMs);
    }
  }

  close(): Promise<void> {
    return this.#dispatcher.close();
  }
}

/** The first bytes of an answer as text; the rest is dropped unread. */
async function readCapped(body: AsyncIterable<Buffer> & { destroy(): unknown }, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= maxBytes) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, maxBytes).toString('utf8').slice(0, EXCERPT_CHARS);
}

function describeFailure(error: unknown, durationMs: number, timeoutMs: number): SendResult {
  // The guarded lookup's refusal arrives as the connection's error.
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  if (cause instanceof PrivateAddressError || error instanceof PrivateAddressError) {
    return { kind: 'refused', durationMs, error: (cause as Error).message };
  }
  const timedOut =
    (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) ||
    error instanceof errors.HeadersTimeoutError ||
    error instanceof errors.BodyTimeoutError ||
    error instanceof errors.ConnectTimeoutError;
  if (timedOut) return { kind: 'no_answer', durationMs, error: `no answer within ${timeoutMs} ms` };
  const code = (cause as { code?: unknown }).code;
  const message = cause instanceof Error ? cause.message : String(cause);
  return { kind: 'no_answer', durationMs, error: typeof code === 'string' ? `${code}: ${message}` : message };
}
