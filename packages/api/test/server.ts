// A running API for tests: real Redis, file storage, two tenants, listening on a free port.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  createMetrics,
  createRedis,
  FileStorage,
  JobStore,
  loadConfig,
  openWebhookQueue,
  QUEUE_NAMES,
  queueOptions,
  type StoredOutput,
} from '@renderq/shared';
import { type RedisHandle, startRedis, uniqueName } from '@renderq/testing';
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { buildApp } from '../src/index.js';

export const KEYS = {
  acme: 'acme-key-0123456789',
  globex: 'globex-key-0123456789',
  /** An operator's key (RENDERQ_ADMIN_KEYS): admin routes and the dashboard, no jobs. */
  operator: 'operator-key-0123456789abcdef',
} as const;

export interface TestApi {
  readonly url: string;
  readonly app: FastifyInstance;
  readonly redis: Redis;
  readonly prefix: string;
  readonly store: JobStore;
  readonly storage: FileStorage;
  call(
    method: string,
    path: string,
    options?: {
      tenant?: keyof typeof KEYS | null;
      body?: unknown;
      headers?: Record<string, string>;
      raw?: string | Buffer;
    },
  ): Promise<Answer>;
  /** Submits a job as a worker would, and Segmind accepts it: polling request `req-JOBID`. */
  start(jobId: string): Promise<void>;
  /** Moves a job to completed with `count` stored outputs, as a worker would. */
  complete(jobId: string, count?: number): Promise<StoredOutput[]>;
  close(): Promise<void>;
}

export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  json(): Record<string, unknown>;
}

export interface StartApiOptions {
  /** Another API's Redis and prefix, to run a second API process over the same data; closing leaves it running. */
  readonly shareWith?: { readonly redisServer: RedisHandle; readonly prefix: string };
}

export async function startApi(
  env: Record<string, string> = {},
  options: StartApiOptions = {},
): Promise<TestApi & { redisServer: RedisHandle }> {
  const redisServer = options.shareWith?.redisServer ?? (await startRedis());
  const dir = await mkdtemp(path.join(tmpdir(), 'renderq-api-'));
  const prefix = options.shareWith?.prefix ?? uniqueName('api');
  const config = loadConfig({
    REDIS_URL: redisServer.url,
    RENDERQ_PREFIX: prefix,
    RENDERQ_API_KEYS: `acme:${KEYS.acme},globex:${KEYS.globex}`,
    RENDERQ_ADMIN_KEYS: KEYS.operator,
    STORAGE_URL: `file://${dir}`,
    ...env,
  });
  const redis = createRedis(redisServer.url, 'client');
  const storage = new FileStorage(dir);
  const app = await buildApp({
    config,
    logger: pino({ level: 'silent' }),
    redis,
    metrics: createMetrics({ processMetrics: false }),
    // The store STORAGE_URL names when a test sets one; otherwise files in a temporary directory.
    ...(env.STORAGE_URL ? {} : { storage }),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const queue = new Queue(QUEUE_NAMES.render, queueOptions(redis, prefix));
  // Records webhook events as a worker would, when the test turns webhooks on.
  const webhooks = config.webhooks.secret ? openWebhookQueue(redis, prefix) : undefined;
  const store = new JobStore({ redis, queue, prefix, ...(webhooks ? { events: webhooks.events } : {}) });

  const start = async (jobId: string): Promise<void> => {
    await store.transition(jobId, 'submit', { name: 'submitting', since: new Date().toISOString() });
    await store.transition(
      jobId,
      'submitted',
      {
        name: 'polling',
        request_id: `req-${jobId}`,
        status_url: 'https://segmind.test/s',
        response_url: 'https://segmind.test/r',
        submitted_at: new Date().toISOString(),
        polls: 0,
      },
      { segmind_request_id: `req-${jobId}` },
    );
  };

  return {
    url,
    app,
    redis,
    prefix,
    store,
    storage,
    redisServer,
    async call(method, route, options = {}) {
      const tenant = options.tenant === undefined ? 'acme' : options.tenant;
      const headers: Record<string, string> = { ...(tenant ? { authorization: `Bearer ${KEYS[tenant]}` } : {}) };
      let body: string | Buffer | undefined = options.raw;
      if (options.body !== undefined) {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(options.body);
      }
      const response = await fetch(`${url}${route}`, { method, headers: { ...headers, ...options.headers }, body });
      const text = await response.text();
      return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) };
    },
    start,
    async complete(jobId, count = 1) {
      await start(jobId);
      await store.transition(jobId, 'result', {
        name: 'storing',
        request_id: `req-${jobId}`,
        sources: [],
        attempts: 0,
      });
      const outputs: StoredOutput[] = [];
      for (let index = 0; index < count; index++) {
        const stored = await storage.put(
          storage.outputKey(jobId, index, 'png'),
          Readable.from([Buffer.from(`image ${index} of ${jobId}`)]),
          'image/png',
        );
        outputs.push({
          index,
          storage_key: stored.key,
          content_type: stored.contentType,
          size: stored.size,
          sha256: stored.sha256,
        });
      }
      await store.transition(jobId, 'complete', { name: 'completed' }, { outputs, cost: 0.002 });
      return outputs;
    },
    async close() {
      await app.close();
      await Promise.all([queue.close(), webhooks?.queue.close()]);
      redis.disconnect();
      if (!options.shareWith) await redisServer.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export const VEGA = { model: 'segmind-vega', input: { prompt: 'a lighthouse at dusk' } };

/** Several API processes over one Redis and prefix, as a deployment runs them; the first owns the Redis. */
export async function startApis(count: number, env: Record<string, string>): Promise<TestApi[]> {
  const first = await startApi(env);
  const shareWith = { redisServer: first.redisServer, prefix: first.prefix };
  return [first, ...(await Promise.all(Array.from({ length: count - 1 }, () => startApi(env, { shareWith }))))];
}

/** Closes APIs started by startApis, the one owning the Redis last. */
export async function closeApis(apis: readonly TestApi[]): Promise<void> {
  for (const api of apis.slice(1)) await api.close();
  await apis[0]?.close();
}

/** A created job's id, or a created batch's job ids. */
export function jobIdsOf(body: Record<string, unknown>): string[] {
  const jobs = body.jobs as { id: string }[] | undefined;
  return jobs ? jobs.map((job) => job.id) : [body.id as string];
}
