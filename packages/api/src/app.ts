/**
 * The HTTP API as a fastify instance, built without listening so tests can use
 * `inject` or listen on a port of their own. Routes grow here; the process
 * wiring is in main.ts.
 */
import type { Config, Logger, Metrics } from '@renderq/shared';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';

export interface AppDependencies {
  readonly config: Config;
  readonly logger: Logger;
  readonly redis: Redis;
  readonly metrics: Metrics;
}

export async function buildApp(deps: AppDependencies): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // Behind a proxy the caller's address is in X-Forwarded-For; off unless configured.
    trustProxy: false,
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    try {
      await deps.redis.ping();
      return { status: 'ready' };
    } catch (error) {
      reply.code(503);
      return { status: 'unavailable', reason: `Redis does not answer: ${(error as Error).message}` };
    }
  });

  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });

  return app;
}
