/**
 * Every error the API answers with is application/problem+json: our own Problems,
 * fastify's (bad JSON, wrong content type, body too large), schema validation
 * failures with every wrong field and its path, unknown routes, and anything
 * unexpected (500, logged, with no internals in the answer).
 */
import { formatPath, isRedisUnavailable } from '@renderq/shared';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Problem, type ProblemCode, problemBody, RetryLaterProblem } from './problems.js';
import { RequestValidationError } from './request-validation.js';

/** When a caller should try again after Redis stopped answering. */
const REDIS_RETRY_AFTER_SECONDS = 5;

const FASTIFY_CODES: Record<string, ProblemCode> = {
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'validation_failed',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_json',
  FST_ERR_VALIDATION: 'validation_failed',
};

export function installProblemHandling(app: FastifyInstance): void {
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    sendProblem(reply, new Problem('route_not_found', `no route for ${request.method} ${path.slice(0, 200)}`));
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof Problem) return sendProblem(reply, error);
    if (isRedisUnavailable(error)) {
      request.log.warn({ err: error }, 'Redis did not answer');
      // Said plainly: the request may or may not have been recorded before Redis stopped answering.
      return sendProblem(
        reply,
        new RetryLaterProblem(
          'service_unavailable',
          'Redis is not answering; the request may not have taken effect: retry it (with the same Idempotency-Key)',
          REDIS_RETRY_AFTER_SECONDS,
        ),
      );
    }
    if (error instanceof RequestValidationError && error.validationContext === 'params') {
      // A path that names no well-formed id names nothing: the same 404 as an unknown id.
      return sendProblem(
        reply,
        new Problem('not_found', `no such resource: ${request.url.split('?')[0]?.slice(0, 200)}`),
      );
    }
    if (error instanceof RequestValidationError) {
      const where = error.validationContext ?? 'body';
      // Body fields are named from the body's root (`input.samples`, `webhook_url`), as the model's
      // own checks name them; the body itself is `body`, other places carry their name first.
      const place = where === 'querystring' ? 'query' : where;
      const errors = error.issues.map((issue) => {
        const path = place === 'body' && issue.segments.length > 0 ? issue.segments : [place, ...issue.segments];
        const message =
          issue.unknownKey && place === 'query' ? 'is not a query parameter of this route' : issue.message;
        return { path: formatPath(path), message };
      });
      return sendProblem(reply, new Problem('validation_failed', `the request ${where} is not valid`, errors));
    }
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      const hint = request.routeOptions.config.bodyTooLargeHint;
      const detail = `the body is larger than ${request.routeOptions.bodyLimit} bytes${hint ? `; ${hint}` : ''}`;
      return sendProblem(reply, new Problem('payload_too_large', detail));
    }
    if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || error.statusCode === 415) {
      return sendProblem(reply, unsupportedMediaType(request));
    }
    const mapped = FASTIFY_CODES[error.code];
    if (mapped) return sendProblem(reply, new Problem(mapped, error.message));
    if (error instanceof SyntaxError || (error.statusCode === 400 && /JSON/i.test(error.message))) {
      return sendProblem(reply, new Problem('malformed_json', error.message));
    }
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      const code = error.statusCode === 413 ? 'payload_too_large' : 'validation_failed';
      return sendProblem(reply, new Problem(code, error.message));
    }
    request.log.error({ err: error }, 'unexpected error');
    return sendProblem(reply, new Problem('internal_error', 'an unexpected error occurred; it has been logged'));
  });
}

/** A 415 that names what the route takes, and what it was sent. */
function unsupportedMediaType(request: FastifyRequest): Problem {
  const accepted = request.routeOptions.config.acceptedTypes ?? ['application/json'];
  const sent = String(request.headers['content-type'] ?? '')
    .split(';')[0]
    ?.trim();
  const named = accepted.length > 1 ? `${accepted.slice(0, -1).join(', ')} or ${accepted.at(-1)}` : accepted[0];
  return new Problem(
    'unsupported_media_type',
    `send the body as ${named}${sent ? ` (this one was ${sent.slice(0, 100)})` : ' (this one named no Content-Type)'}`,
  );
}

/** Answers with `problem` as application/problem+json. */
export function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  if (problem instanceof RetryLaterProblem) reply.header('retry-after', String(problem.retryAfterSeconds));
  // Refused before its body was read (too large, too long a line, no upload slot): the rest of the body is
  // not worth reading just to keep the connection, so it is closed once the answer is out.
  if (!reply.request.raw.complete) reply.header('connection', 'close');
  return reply.code(problem.status).type('application/problem+json').send(problem.body());
}

const STATUS_TEXT = {
  400: 'Bad Request',
  408: 'Request Timeout',
  413: 'Content Too Large',
  431: 'Request Header Fields Too Large',
  503: 'Service Unavailable',
} as const;

const CODE_OF_STATUS: Record<keyof typeof STATUS_TEXT, ProblemCode> = {
  400: 'validation_failed',
  408: 'request_timeout',
  413: 'payload_too_large',
  431: 'payload_too_large',
  503: 'service_unavailable',
};

/**
 * A whole HTTP answer as bytes, for when the server answers on the socket itself: the HTTP parser's own
 * errors (absurd headers, broken framing), timeouts, and connections beyond the cap.
 */
export function clientErrorAnswer(
  status: keyof typeof STATUS_TEXT,
  detail: string,
  retryAfterSeconds?: number,
): string {
  const body = JSON.stringify({ ...problemBody(CODE_OF_STATUS[status], detail), status });
  return [
    `HTTP/1.1 ${status} ${STATUS_TEXT[status]}`,
    'content-type: application/problem+json',
    `content-length: ${Buffer.byteLength(body)}`,
    ...(retryAfterSeconds !== undefined ? [`retry-after: ${retryAfterSeconds}`] : []),
    'connection: close',
    '',
    body,
  ].join('\r\n');
}
