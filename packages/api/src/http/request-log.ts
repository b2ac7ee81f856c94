/**
 * One log line per request, written when the answer has gone: method, the URL with
 * every query value taken out except those of a few parameters known to be harmless
 * (an output link's signature, in whatever spelling a caller sends it, would otherwise
 * make the log a download), status, time taken, who called (tenant or operator;
 * never a key), and a traced request's trace and span ids.
 */
import { REDACTED_VALUE, traceLogFields } from '@renderq/shared';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import { pino } from 'pino';
import { requestSpan } from './request-tracing.js';

export function logRequests(app: FastifyInstance): void {
  app.addHook('onResponse', async (request, reply) => {
    const status = reply.statusCode;
    const level = status >= 500 ? 'error' : 'info';
    // Nothing is built for a line that is not written (at thousands of requests a second).
    if (!writes(request.log, level)) return;
    const fields = {
      method: request.method,
      url: loggableUrl(request.url),
      status,
      ms: Math.round(reply.elapsedTime),
      caller: callerOf(request),
      ...traceLogFields(requestSpan(request)),
    };
    request.log[level](fields, 'request');
  });
}

function writes(log: FastifyBaseLogger, level: 'info' | 'error'): boolean {
  if (log.level === 'silent') return false;
  return (pino.levels.values[level] ?? 0) >= (pino.levels.values[log.level] ?? 0);
}

function callerOf(request: FastifyRequest): string {
  const principal = request.principal;
  if (!principal) return 'unknown';
  if (principal.kind === 'tenant') return `tenant:${principal.tenant}`;
  return principal.kind;
}

/** Query parameters whose values say what was asked for and grant nothing. */
const HARMLESS_PARAMETERS = new Set([
  'status',
  'model',
  'batch_id',
  'created_after',
  'created_before',
  'limit',
  'expires',
  'priority',
  'webhook_events',
  'activeQueue',
  'page',
  'jobsPerPage',
]);

/** The path as sent, and the query with only harmless values kept: names stay, so the line still says what was sent. */
function loggableUrl(url: string): string {
  const at = url.indexOf('?');
  if (at < 0) return url;
  const query = url
    .slice(at + 1)
    .split('&')
    .map((pair) => {
      const equals = pair.indexOf('=');
      if (equals < 0) return pair;
      const name = pair.slice(0, equals);
      return HARMLESS_PARAMETERS.has(name) ? pair : `${name}=${REDACTED_VALUE}`;
    })
    .join('&');
  return `${url.slice(0, at)}?${query}`;
}
