/**
 * The worker's own small HTTP server on WORKER_METRICS_PORT: `/metrics` for
 * Prometheus, and `/healthz` and `/readyz` for orchestrators — 503 naming the cause
 * when the worker cannot work (worker-health.ts: Redis not answering within its deadline, a
 * queue whose due jobs it stopped taking; for /readyz also storage that takes no writes). Three
 * fixed routes need no framework.
 */
import { createServer, type Server } from 'node:http';
import type { Metrics } from '@renderq/shared';

export interface HealthServerOptions {
  readonly host: string;
  readonly port: number;
  readonly metrics: Metrics;
  /**
   * Facts for /healthz and /readyz (for example Redis's state); with `unavailable` set the
   * worker cannot work, and both answer 503 with it as the reason.
   */
  readonly health: () => HealthFacts | Promise<HealthFacts>;
  /**
   * What /readyz adds to the health facts: conditions a restart would not cure (storage not
   * usable), so they take the worker out of rotation without failing its liveness.
   */
  readonly readiness?: () => HealthFacts;
}

type HealthFacts = Record<string, unknown> & { readonly unavailable?: string };

export async function startHealthServer(options: HealthServerOptions): Promise<Server> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz' || path === '/readyz') {
      Promise.resolve()
        .then(async () => {
          const health = await options.health();
          if (path !== '/readyz' || health.unavailable || !options.readiness) return health;
          return { ...health, ...options.readiness() };
        })
        .then(
          ({ unavailable, ...facts }) => {
            const body = unavailable
              ? { status: 'unavailable', reason: unavailable, ...facts }
              : { status: 'ok', ...facts };
            response.writeHead(unavailable ? 503 : 200, { 'content-type': 'application/json' });
            response.end(JSON.stringify(body));
          },
          (error: unknown) => {
            response.writeHead(503, { 'content-type': 'application/json' });
            response.end(JSON.stringify({ status: 'unavailable', reason: String(error) }));
          },
        );
      return;
    }
    if (path === '/metrics') {
      options.metrics.registry.metrics().then(
        (text) => response.writeHead(200, { 'content-type': options.metrics.registry.contentType }).end(text),
        (error: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(String(error)),
      );
      return;
    }
    response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return server;
}
