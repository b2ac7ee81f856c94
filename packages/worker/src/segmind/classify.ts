/**
 * What to do about each Segmind answer, in one table (docs/segmind.md, "Errors"):
 * fail the job now, retry it later, retry it at a time, or stop taking jobs for
 * everyone. Segmind has no idempotency, so a submit whose answer never came is
 * neither: it is ambiguous, and a policy decides.
 */
import { FailJobError, RetryLaterError, StopTakingJobsError } from '@renderq/shared';

export type SegmindCall = 'submit' | 'status' | 'result' | 'credits';

/** A submit that may have started a billable request: its answer never arrived. */
export class AmbiguousSubmitError extends Error {
  override readonly name = 'AmbiguousSubmitError';
}

/**
 * A submit Segmind did not take because it is failing or out of reach — a 5xx, or a connection that
 * was never made — which started no request: the job waits it out (submit-failures.ts), and the
 * outage breaker counts it. Other passing faults spend attempts as usual.
 */
export class SegmindOutageError extends RetryLaterError {}

/** Network failures that happen before a request leaves this machine: certainly not started. */
const NOT_SENT = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** An error for an HTTP answer that is not a success. */
export function classifyStatus(
  call: SegmindCall,
  statusCode: number,
  message: string,
  headers: Record<string, string | string[] | undefined>,
): Error {
  const text = `Segmind answered ${statusCode} to ${call}: ${message}`;
  switch (statusCode) {
    case 401:
      return new StopTakingJobsError('unauthorized', text);
    case 404:
      return call === 'submit'
        ? new FailJobError('segmind_rejected', text)
        : new FailJobError(
            'segmind_expired',
            `${text}: Segmind no longer knows this request, so its result cannot be fetched. Its record is ` +
              'kept an hour after it finishes; sooner than that, Segmind lost it — with the bundled emulator, ' +
              'it was restarted without its data (EMULATOR_DATA_DIR)',
          );
    case 406:
      return new StopTakingJobsError('out_of_credits', text);
    case 429: {
      const resetAt = parseResetHeader(headers['x-rate-limit-reset-at-utc']);
      return new StopTakingJobsError('rate_limited', text, resetAt);
    }
    case 400:
    case 403:
    case 405:
    case 410:
    case 422:
      return call === 'submit' || statusCode === 405
        ? new FailJobError('segmind_rejected', text)
        : new RetryLaterError(text, 'segmind_unavailable');
    default:
      // A submit answered 5xx started nothing: an outage to wait out.
      if (call === 'submit' && statusCode >= 500) return new SegmindOutageError(text, 'segmind_unavailable');
      // Anything else unexpected: a passing fault until attempts run out.
      return new RetryLaterError(text, 'segmind_unavailable');
  }
}

/** An error for a call that got no HTTP answer at all. */
export function classifyNetworkError(call: SegmindCall, error: unknown): Error {
  const code = errorCode(error);
  const text = `no answer from Segmind to ${call}: ${code ?? (error as Error).message}`;
  if (call === 'submit' && !(code && NOT_SENT.has(code))) {
    return new AmbiguousSubmitError(text, { cause: error });
  }
  if (call === 'submit') return new SegmindOutageError(text, 'segmind_unavailable', { cause: error });
  return new RetryLaterError(text, 'segmind_unavailable', { cause: error });
}

/** When a 429's window resets; a minute from now when the header is missing or unreadable. */
export function parseResetHeader(value: string | string[] | undefined, now = Date.now()): Date {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw) {
    const trimmed = raw.trim();
    const numeric = Number(trimmed);
    // Epoch seconds or milliseconds, or an ISO 8601 time.
    const ms = Number.isFinite(numeric) ? (numeric < 1e12 ? numeric * 1000 : numeric) : Date.parse(trimmed);
    if (Number.isFinite(ms)) return new Date(ms);
  }
  return new Date(now + 60_000);
}

function errorCode(error: unknown): string | undefined {
  for (let current: unknown = error; current; current = (current as { cause?: unknown }).cause) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}
