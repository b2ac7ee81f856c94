/** The error codes a job can end with, as data: what the API, webhooks and metrics show. */
import { z } from 'zod';

export const ErrorCode = z.enum([
  /** The inference ran and FAILED at Segmind (HTTP 422 on poll). */
  'segmind_failed',
  /** Segmind refused the submit: 400/403/404/405/410. */
  'segmind_rejected',
  /** Segmind refused the API key (401). */
  'segmind_unauthorized',
  /** The request record expired at Segmind before the result was fetched (404 on poll). */
  'segmind_expired',
  /** A submit whose answer never came, failed by the ambiguous-submit policy. */
  'segmind_ambiguous_submit',
  /** Retries of a passing Segmind fault (5xx, network) ran out. */
  'segmind_unavailable',
  /** The per-job deadline passed. */
  'timeout',
  /** An output could not be downloaded or stored. */
  'storage_failed',
  /** The input was valid when enqueued but cannot be used (for example an unreachable image). */
  'invalid_input',
  /** Anything unexpected; the message says what. */
  'internal_error',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const JobError = z.object({ code: ErrorCode, message: z.string() });
export type JobError = z.infer<typeof JobError>;
