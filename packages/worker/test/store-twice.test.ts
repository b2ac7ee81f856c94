// The store step may run twice at once for one job (a worker's lock lapses under load and
// BullMQ hands the job to another while the first still works). Both write the same keys
// with the same bytes; the run that loses the race to complete the job must not delete
// them: they are the completed job's outputs.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createMetrics, createRedis, FileStorage, QUEUE_NAMES, queueOptions } from '@renderq/shared';
import { type RedisHandle, startRedis, uniqueName } from '@renderq/testing';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutputStore } from '../src/pipeline/output-store.js';
import type { PipelineDeps, PollJob } from '../src/pipeline/pipeline-deps.js';
import { pollQueueStep } from '../src/pipeline/poll-queue-step.js';
import { inProcessDeps } from './in-process-deps.js';
import { SMALL_PNG } from './stack.js';

let server: RedisHandle;
let redis: Redis;
let dir: string;
let queue: Queue;
let deps: PipelineDeps;

beforeAll(async () => {
  server = await startRedis();
  redis = createRedis(server.url, 'worker');
  dir = await mkdtemp(path.join(tmpdir(), 'renderq-store-twice-'));
  const prefix = uniqueName('twice');
  queue = new Queue(QUEUE_NAMES.render, queueOptions(redis, prefix));
  const storage = new FileStorage(dir);
  const metrics = createMetrics({ processMetrics: false });
  deps = inProcessDeps(redis, prefix, queue, {
    metrics,
    outputs: new OutputStore({ storage, dispatcher: new Agent(), metrics, maxBytes: 1 << 20, timeoutMs: 5_000 }),
  });
});

afterAll(async () => {
  await queue?.close();
  redis?.disconnect();
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function jobInStoring(): Promise<string> {
  const record = await deps.store.create({ tenant: 't', model: 'segmind-vega', input: { prompt: 'x' } });
  await deps.store.transition(record.id, 'submit', { name: 'submitting', since: new Date().toISOString() });
  await deps.store.transition(record.id, 'submitted', {
    name: 'polling',
    request_id: 'req',
    status_url: 'https://segmind.test/s',
    response_url: 'https://segmind.test/r',
    submitted_at: new Date().toISOString(),
    polls: 0,
  });
  await deps.store.transition(record.id, 'result', {
    name: 'storing',
    request_id: 'req',
    sources: [SMALL_PNG, SMALL_PNG],
    attempts: 0,
  });
  return record.id;
}

describe('the store step run twice at once', () => {
  it('keeps the outputs of the job the other run completed', async () => {
    const step = pollQueueStep(deps);
    for (let round = 0; round < 5; round++) {
      const id = await jobInStoring();
      const job = { data: { jobId: id } } as PollJob;
      await Promise.all([step(job, 'a'), step(job, 'b')]);
      const record = await deps.store.get(id);
      expect(record?.stage.name).toBe('completed');
      expect(record?.outputs).toHaveLength(2);
      for (const output of record?.outputs ?? []) {
        const stored = await new FileStorage(dir).get(output.storage_key);
        stored.body.destroy();
        expect(stored.size).toBe(output.size);
      }
    }
  });

  it('still deletes what a job cancelled while storing had stored', async () => {
    const id = await jobInStoring();
    const job = { data: { jobId: id } } as PollJob;
    const running = pollQueueStep(deps)(job, 'a');
    await deps.store.transition(id, 'cancel', { name: 'cancelled' });
    await running;
    await expect(new FileStorage(dir).get(`${id}/0.png`)).rejects.toThrow(/no stored object/);
  });
});
