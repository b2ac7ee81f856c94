import { createMetrics, createRedis, loadConfig } from '@renderq/shared';
import { type RedisHandle, startRedis } from '@renderq/testing';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/index.js';

let server: RedisHandle;
beforeAll(async () => {
  server = await startRedis({ own: true });
});
afterAll(() => server?.stop());

async function appFor(redisUrl: string) {
  const config = loadConfig({ REDIS_URL: redisUrl });
  const redis = createRedis(redisUrl, 'client');
  redis.on('error', () => {});
  const metrics = createMetrics({ processMetrics: false });
  metrics.jobsEnqueued.inc({ model: 'segmind-vega' });
  const app = await buildApp({ config, logger: pino({ level: 'silent' }), redis, metrics });
  return {
    app,
    close: async () => {
      await app.close();
      redis.disconnect();
    },
  };
}

describe('operational routes', () => {
  it('/healthz answers while the process runs', async () => {
    const { app, close } = await appFor(server.url);
    const response = await app.inject({ method: 'GET', url: '/healthz' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ok' });
    await close();
  });

  it('/readyz is 200 while Redis answers and 503 with the reason when it does not', async () => {
    const { app, close } = await appFor(server.url);
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    await server.kill();
    const down = await app.inject({ method: 'GET', url: '/readyz' });
    expect(down.statusCode).toBe(503);
    // Public: the cause, never Redis's own error, which names its host and port.
    expect(down.json()).toEqual({ status: 'unavailable', reason: 'Redis does not answer' });
    await server.start();
    await close();
  });

  it('/metrics serves Prometheus text with the contract metrics', async () => {
    const { app, close } = await appFor(server.url);
    const response = await app.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('text/plain');
    expect(response.body).toContain('renderq_jobs_enqueued_total{model="segmind-vega"} 1');
    await close();
  });
});
