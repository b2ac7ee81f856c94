// renderq as the end-to-end tests run it: the API in this process (listening on a free port), a
// worker as a child process, over the Redis, Segmind emulator and storage a test gives.
import { Writable } from 'node:stream';
import { buildApp } from '@renderq/api';
import { closeRedis, createMetrics, createRedis, loadConfig, startTracing } from '@renderq/shared';
import { freePort } from '@renderq/testing';
import { spawnWorker, type WorkerChild } from '@renderq/worker/testing';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { pino } from 'pino';

export interface System {
  readonly baseUrl: string;
  /** What the API (in this process) logged, at `LOG_LEVEL` of `env` (silent when unset). */
  readonly apiOutput: () => string;
  readonly app: FastifyInstance;
  readonly redis: Redis;
  readonly worker: WorkerChild;
  /** Stops the worker, then the API, each sending its spans (the Redis, emulator and storage are the test's). */
  close(): Promise<void>;
}

/** Starts the API and a worker with `env` (REDIS_URL, SEGMIND_*, STORAGE_URL, keys…) and a free port each. */
export async function startSystem(env: Record<string, string>): Promise<System> {
  const port = await freePort();
  const settings: Record<string, string> = { ...env, PORT: String(port) };
  const redis = createRedis(settings.REDIS_URL ?? '', 'client') as Redis;
  const config = loadConfig(settings);
  let apiLines = '';
  const apiLog = new Writable({
    write(chunk, _encoding, done) {
      apiLines += String(chunk);
      done();
    },
  });
  // OTEL_* in `env` trace this process's API as they trace the worker's.
  const tracing = await startTracing(config.tracing, 'renderq-api');
  const app = await buildApp({
    config,
    logger: pino({ level: settings.LOG_LEVEL ?? 'silent' }, apiLog),
    redis,
    metrics: createMetrics({ processMetrics: false }),
    tracer: tracing.tracer,
  });
  await app.listen({ host: '127.0.0.1', port });
  const worker = await spawnWorker({
    env: { ...settings, WORKER_METRICS_PORT: String(await freePort()) },
    captureOutput: true,
  });
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    apiOutput: () => apiLines,
    app,
    redis,
    worker,
    async close() {
      if (worker.child.exitCode === null) {
        worker.child.kill('SIGTERM');
        await worker.exited;
      }
      await app.close();
      await closeRedis(redis);
      await tracing.shutdown();
    },
  };
}
