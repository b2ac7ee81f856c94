/**
 * The worker's own small HTTP server on WORKER_METRICS_PORT: `/metrics` for
 * Prometheus and `/healthz` for orchestrators. Two fixed routes need no framework.
 */
import { createServer, type Server } from 'node:http';
import type { Metrics } from '@renderq/shared';

export interface HealthServerOptions {
  readonly host: string;
  readonly port: number;
  readonly metrics: Metrics;
  /** Facts for /healthz (for example Redis's state); the worker is healthy while it answers. */
  readonly health: () => Record<string, unknown>;
}

export async function startHealthServer(options: HealthServerOptions): Promise<Server> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ status: 'ok', ...options.health() }));
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
