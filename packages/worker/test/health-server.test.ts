import type { Server } from 'node:http';
import { createMetrics } from '@renderq/shared';
import { freePort } from '@renderq/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHealthServer } from '../src/health-server.js';

let server: Server;
let base: string;
beforeAll(async () => {
  const port = await freePort();
  const metrics = createMetrics({ processMetrics: false });
  metrics.segmindRequests.inc({ operation: 'submit', status_code: '200' });
  server = await startHealthServer({ host: '127.0.0.1', port, metrics, health: () => ({ redis: 'ready' }) });
  base = `http://127.0.0.1:${port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('worker health server', () => {
  it('answers /healthz with its facts', async () => {
    const response = await fetch(`${base}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok', redis: 'ready' });
  });

  it('serves /metrics', async () => {
    const response = await fetch(`${base}/metrics`);
    expect(response.headers.get('content-type')).toContain('text/plain');
    expect(await response.text()).toContain('renderq_segmind_requests_total{operation="submit",status_code="200"} 1');
  });

  it('answers 503 naming the cause on /healthz and /readyz while the worker cannot work', async () => {
    const port = await freePort();
    const sick = await startHealthServer({
      host: '127.0.0.1',
      port,
      metrics: createMetrics({ processMetrics: false }),
      health: async () => ({ redis: 'connect', unavailable: 'Redis did not answer within 1500 ms' }),
    });
    for (const path of ['/healthz', '/readyz']) {
      const response = await fetch(`http://127.0.0.1:${port}${path}`);
      expect(response.status).toBe(503);
      expect(await response.json()).toEqual({
        status: 'unavailable',
        reason: 'Redis did not answer within 1500 ms',
        redis: 'connect',
      });
    }
    await new Promise<void>((resolve) => sick.close(() => resolve()));
  });

  it('answers anything else with 404, and other verbs with 405', async () => {
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
  });
});
