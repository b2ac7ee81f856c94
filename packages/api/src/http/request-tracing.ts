/**
 * Server spans for the routes that start jobs' traces (route config `traced`: POST /v1/jobs and
 * POST /v1/batches), once the caller's key has been checked. A caller's W3C `traceparent`/`tracestate`
 * continue its own trace. The span is
 * kept with the request (requestSpan): the jobs the request creates record it as their parent, and
 * its log line carries its ids. Other routes make no spans.
 */
import { type Span, SpanStatusCode } from '@opentelemetry/api';
import type { Traces } from '@renderq/shared';
import type { FastifyInstance, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Requests to this route are traced (server spans), continuing the caller's `traceparent`. */
    traced?: boolean;
  }
}

const spans = new WeakMap<FastifyRequest, Span>();

/** The request's server span, while it is handled; undefined when not traced. */
export function requestSpan(request: FastifyRequest): Span | undefined {
  return spans.get(request);
}

export function traceRequests(app: FastifyInstance, traces: Traces): void {
  if (!traces.on) return;
  const end = (request: FastifyRequest, statusCode?: number) => {
    const span = spans.get(request);
    if (!span) return;
    if (statusCode === undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: 'the client went away' });
    else {
      span.setAttribute('http.response.status_code', statusCode);
      if (statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  };
  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.config.traced !== true) return;
    const route = request.routeOptions.url ?? request.url;
    const span = traces.startRequest(`${request.method} ${route}`, request.headers, {
      'http.request.method': request.method,
      'http.route': route,
    });
    if (span) spans.set(request, span);
  });
  // Ended when the answer has gone; the span stays with the request for its log line (written then too).
  app.addHook('onResponse', async (request, reply) => end(request, reply.statusCode));
  app.addHook('onRequestAbort', async (request) => end(request));
}
