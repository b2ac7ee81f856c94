/**
 * One registry of the API's error codes, each with its HTTP status and title, and
 * the problem+json body (RFC 9457; its shape is the contract's `Problem`) every error
 * is answered with. Routes throw a `Problem`; the error handler (problem-handler.ts)
 * turns everything else into one.
 */
import type { Problem as ProblemBody, ProblemIssue } from '@renderq/contract';

const PROBLEMS = {
  validation_failed: { status: 400, title: 'The request is not valid' },
  malformed_json: { status: 400, title: 'The body is not valid JSON' },
  unauthorized: { status: 401, title: 'A valid API key is required' },
  budget_exceeded: { status: 402, title: "The tenant's spend budget has no room for this" },
  forbidden: { status: 403, title: 'This key may not use this route' },
  not_found: { status: 404, title: 'Not found' },
  route_not_found: { status: 404, title: 'No such route' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  request_timeout: { status: 408, title: 'The request did not arrive in time' },
  conflict: { status: 409, title: 'The resource is not in a state that allows this' },
  idempotency_in_progress: { status: 409, title: 'A request with this Idempotency-Key is still being handled' },
  payload_too_large: { status: 413, title: 'The request body is too large' },
  uri_too_long: { status: 414, title: 'The request URL is too long' },
  unsupported_media_type: { status: 415, title: 'Unsupported content type' },
  idempotency_key_reused: { status: 422, title: 'This Idempotency-Key was used with a different body' },
  too_many_requests: { status: 429, title: 'Too many requests' },
  internal_error: { status: 500, title: 'Internal server error' },
  service_unavailable: { status: 503, title: 'Service unavailable' },
} as const;

export type ProblemCode = keyof typeof PROBLEMS;

/** Every code, in the order docs/errors.md lists them. */
export const PROBLEM_CODES = Object.keys(PROBLEMS) as ProblemCode[];

/** An error the API answers with as it is: its code decides the status. */
export class Problem extends Error {
  override readonly name = 'Problem';
  constructor(
    readonly code: ProblemCode,
    readonly detail: string,
    readonly errors?: readonly ProblemIssue[],
  ) {
    super(detail);
  }

  get status(): number {
    return PROBLEMS[this.code].status;
  }

  body(): ProblemBody {
    return problemBody(this.code, this.detail, this.errors);
  }
}

/**
 * A refusal that passes with time (rate limit, every slot busy, a budget until its period ends or
 * jobs end unbilled): answered with
 * Retry-After, and never kept as the answer to an Idempotency-Key, so a retry is
 * handled afresh.
 */
export class RetryLaterProblem extends Problem {
  constructor(
    code: 'too_many_requests' | 'service_unavailable' | 'budget_exceeded',
    detail: string,
    /** Whole seconds, at least 1. */
    readonly retryAfterSeconds: number,
  ) {
    super(code, detail);
  }
}

export function problemBody(code: ProblemCode, detail: string, errors?: readonly ProblemIssue[]): ProblemBody {
  const { status, title } = PROBLEMS[code];
  return {
    type: `https://renderq.dev/problems/${code.replaceAll('_', '-')}`,
    title,
    status,
    detail,
    // A copy: the body is the contract's type, whose list is not read-only as a Problem's is.
    ...(errors && errors.length > 0 ? { errors: [...errors] } : {}),
  };
}
