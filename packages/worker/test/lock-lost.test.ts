// A worker that stalls past its job's lock (a frozen Redis, a blocked event loop) has lost the
// job to another worker: it must not submit it as well, or the other would find the job
// mid-submit and settle it as ambiguous while this one's request runs at Segmind.
import { createRedis, QUEUE_NAMES, queueOptions } from '@renderq/shared';
import { type RedisHandle, startRedis, uniqueName } from '@renderq/testing';
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineDeps, RenderJob } from '../src/pipeline/pipeline-deps.js';
import { submitStep } from '../src/pipeline/submit-step.js';
import type { SegmindClient } from '../src/segmind/segmind-client.js';
import { inProcessDeps } from './in-process-deps.js';

let server: RedisHandle;
let redis: Redis;
let queue: Queue;
let worker: Worker;
let deps: PipelineDeps;
const submitted: string[] = [];

beforeAll(async () => {
  server = await startRedis();
  redis = createRedis(server.url, 'worker');
  const prefix = uniqueName('lock');
  queue = new Queue(QUEUE_NAMES.render, queueOptions(redis, prefix));
  worker = new Worker(QUEUE_NAMES.render, null, { connection: redis, prefix, autorun: false });
  deps = inProcessDeps(redis, prefix, queue, {
    segmind: {
      submit: async (model: string) => {
        submitted.push(model);
        return { request_id: 'req', status_url: 'https://segmind.test/s', response_url: 'https://segmind.test/r' };
      },
    } as unknown as SegmindClient,
  });
});

afterAll(async () => {
  await worker?.close();
  await queue?.close();
  redis?.disconnect();
  await server?.stop();
});

describe('a submit whose BullMQ lock lapsed', () => {
  it('is given up before the job moves, and made by the worker that holds the lock', async () => {
    const record = await deps.store.create({ tenant: 't', model: 'segmind-vega', input: { prompt: 'x' } });
    const job = (await worker.getNextJob('holder')) as RenderJob;
    expect(job.data.jobId).toBe(record.id);

    await expect(submitStep(deps)(job, 'stalled-worker')).rejects.toThrow(/lock lapsed/);
    expect(submitted).toEqual([]);
    expect((await deps.store.get(record.id))?.stage.name).toBe('queued');

    await submitStep(deps)(job, 'holder');
    expect(submitted).toEqual(['segmind-vega']);
    expect((await deps.store.get(record.id))?.stage.name).toBe('polling');
  });
});
