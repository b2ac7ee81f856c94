// A job another worker finds mid-submit waits for the worker that made the submit (stalled past its
// lock, not dead) to record Segmind's answer, and only then is settled as ambiguous; the stalled
// worker's answer lands only while the job is still in its submit.
import { createRedis, QUEUE_NAMES, queueOptions } from '@renderq/shared';
import { type RedisHandle, startRedis, uniqueName } from '@renderq/testing';
import { DelayedError, Queue, Worker } from 'bullmq';
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
let submits = 0;
/** Opens the Segmind answer the stalled worker is waiting for. */
let answer: () => void = () => {};

const WAIT_MS = 1_500;

beforeAll(async () => {
  server = await startRedis();
  redis = createRedis(server.url, 'worker');
  const prefix = uniqueName('takeover');
  queue = new Queue(QUEUE_NAMES.render, queueOptions(redis, prefix));
  worker = new Worker(QUEUE_NAMES.render, null, { connection: redis, prefix, autorun: false });
  const base = inProcessDeps(redis, prefix, queue, {
    segmind: {
      // Answered only when the test says: the worker that made it is stalled until then.
      submit: async () => {
        const n = ++submits;
        await new Promise<void>((resolve) => (answer = resolve));
        return { request_id: `req-${n}`, status_url: 'https://segmind.test/s', response_url: 'https://segmind.test/r' };
      },
    } as unknown as SegmindClient,
  });
  deps = { ...base, settings: { ...base.settings, ambiguousSubmitWaitMs: WAIT_MS } };
});

afterAll(async () => {
  await worker?.close();
  await queue?.close();
  redis?.disconnect();
  await server?.stop();
});

/** Starts a submit by a worker that then stalls, and hands its BullMQ lock to another (`taker`). */
async function stalledSubmit(taker: string) {
  const record = await deps.store.create({ tenant: 't', model: 'segmind-vega', input: { prompt: 'x' } });
  const job = (await worker.getNextJob('stalled')) as RenderJob;
  expect(job.data.jobId).toBe(record.id);
  const stalled = submitStep(deps)(job, 'stalled');
  while ((await deps.store.get(record.id))?.stage.name !== 'submitting') await sleep(10);
  // BullMQ's stall check gave the job to another worker: its lock is the other's now.
  await redis.set(`${queue.toKey(record.id)}:lock`, taker);
  return { id: record.id, job, stalled };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a job found mid-submit', () => {
  it("waits, spending no attempt, and the stalled worker's answer is recorded meanwhile", async () => {
    const { id, job, stalled } = await stalledSubmit('taker');
    await expect(submitStep(deps)(job, 'taker')).rejects.toBeInstanceOf(DelayedError);
    expect(await queue.getJobState(id)).toBe('delayed');
    expect((await queue.getJob(id))?.attemptsMade).toBe(0);
    expect((await deps.store.get(id))?.stage.name).toBe('submitting');

    answer();
    await stalled;
    expect(await deps.store.get(id)).toMatchObject({
      stage: { name: 'polling' },
      segmind_request_id: `req-${submits}`,
    });
    await (await queue.getJob(id))?.remove();
  });

  it("is settled as ambiguous after the wait, and the stalled worker's late answer is then refused", async () => {
    const before = submits;
    const { id, job, stalled } = await stalledSubmit('taker');
    await expect(submitStep(deps)(job, 'taker')).rejects.toBeInstanceOf(DelayedError);
    await sleep(WAIT_MS);
    await (await queue.getJob(id))?.promote();
    const again = (await worker.getNextJob('taker-again')) as RenderJob;
    expect(again.data.jobId).toBe(id);
    await submitStep(deps)(again, 'taker-again');
    expect((await deps.store.get(id))?.error?.code).toBe('segmind_ambiguous_submit');

    answer();
    await stalled;
    const record = await deps.store.get(id);
    expect(record).toMatchObject({ stage: { name: 'failed' }, segmind_request_id: null });
    // Made once, by the worker that stalled; never again by the one that settled it.
    expect(submits - before).toBe(1);
  });
});
