/**
 * One log line per request, written when the answer has gone: method, the URL with
 * its secrets taken out (an output link's signature would otherwise make the log a
 * download), status, time taken, and who called (tenant or operator; never a key).
 */
import { redactUrl } from '@renderq/shared';
import type { FastifyInstance, FastifyRequest } from 'fastify';

export function logRequests(app: FastifyInstance): void {
  app.addHook('onResponse', async (request, reply) => {
    const status = reply.statusCode;
    const fields = {
      method: request.method,
      url: redactUrl(request.url),
      status,
      ms: Math.round(reply.elapsedTime),
      caller: callerOf(request),
    };
    if (status >= 500) request.log.error(fields, 'request');
    else request.log.info(fields, 'request');
  });
}

function callerOf(request: FastifyRequest): string {
  const principal = request.principal;
  if (!principal) return 'unknown';
  if (principal.kind === 'tenant') return `tenant:${principal.tenant}`;
  return principal.kind;
}
