// A private Redis for the whole file and, for each test, a fresh prefix with its render
// queue and JobStore: the setup the job store's tests share.
import { type RedisHandle, startRedis, uniqueName } from '@renderq/testing';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { createRedis, JobStore, QUEUE_NAMES, queueOptions } from '../src/index.js';
import type { RenderJobData } from '../src/queues.js';

export interface JobStoreFixture {
  readonly redis: Redis;
  readonly prefix: string;
  readonly queue: Queue<RenderJobData>;
  readonly store: JobStore;
}

/** Registers the hooks; `use` receives each test's fixture before it runs. */
export function useJobStore(
  name: string,
  use: (fixture: JobStoreFixture) => void,
  options: { readonly fairShare?: boolean } = {},
): void {
  let server: RedisHandle;
  let redis: Redis;
  let queue: Queue<RenderJobData> | undefined;
  beforeAll(async () => {
    server = await startRedis();
    redis = createRedis(server.url, 'worker');
  });
  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });
  beforeEach(() => {
    const prefix = uniqueName(name);
    queue = new Queue<RenderJobData>(QUEUE_NAMES.render, queueOptions(redis, prefix));
    use({ redis, prefix, queue, store: new JobStore({ redis, queue, prefix, retentionMs: 60_000, ...options }) });
  });
  afterEach(async () => {
    await queue?.close();
  });
}
