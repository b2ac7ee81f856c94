/** renderq as the benchmarks drive it: batches through the API, or records read and written in Redis directly. */
import { createRedis, JobStore, type NewJob, openWebhookQueue, QUEUE_NAMES, queueOptions } from '@renderq/shared';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { API_KEY, sleep } from './processes.js';

/** SD3.5 Turbo at 64×64: tiny outputs, so storing them costs little next to renderq's own work. */
export const BENCH_MODEL = 'stable-diffusion-3.5-turbo-txt2img';
export const benchInput = (i: number) => ({
  prompt: `benchmark render ${i}`,
  sampler: 'euler',
  scheduler: 'karras',
  width: 64,
  height: 64,
});
export const benchJob = (i: number): NewJob => ({ tenant: 'bench', model: BENCH_MODEL, input: benchInput(i) });

export interface OpenStore {
  readonly store: JobStore;
  readonly redis: Redis;
  readonly queue: Queue;
  close(): Promise<void>;
}

export function openStore(redisUrl: string, prefix: string, withWebhooks = false): OpenStore {
  const redis = createRedis(redisUrl, 'worker');
  const queue = new Queue(QUEUE_NAMES.render, queueOptions(redis, prefix));
  const webhooks = withWebhooks ? openWebhookQueue(redis, prefix) : undefined;
  const store = new JobStore({ redis, queue, prefix, ...(webhooks ? { events: webhooks.events } : {}) });
  return {
    store,
    redis,
    queue,
    close: async () => {
      await Promise.all([queue.close(), webhooks?.queue.close()]);
      redis.disconnect();
    },
  };
}

export async function waitBatchFinished(store: JobStore, batchId: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const batch = await store.getBatch(batchId);
    if (batch?.finished_at) return;
    if (Date.now() > deadline) throw new Error(`batch ${batchId} did not finish in ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}

/** POST /v1/batches (as the bench tenant unless another key is given); returns the batch id once accepted. */
export async function postBatch(
  apiUrl: string,
  count: number,
  { key = API_KEY, priority }: { readonly key?: string; readonly priority?: number } = {},
): Promise<string> {
  const response = await fetch(`${apiUrl}/v1/batches`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      jobs: Array.from({ length: count }, (_, i) => ({ model: BENCH_MODEL, input: benchInput(i) })),
      ...(priority ? { priority } : {}),
    }),
  });
  const body = (await response.json()) as { id?: string };
  if (response.status !== 202 || !body.id)
    throw new Error(`batch answered ${response.status}: ${JSON.stringify(body)}`);
  return body.id;
}
