// Acceptance of the worker pipeline against real Redis, a real S3 server, the Segmind
// emulator and workers as child processes.
import { createHash } from 'node:crypto';
import { QUEUE_NAMES, queueOptions } from '@renderq/shared';
import { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { jobFor, MODELS, type Stack, startStack } from './stack.js';

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

async function sha256OfStored(s: Stack, key: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of (await s.storage.get(key)).body) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

describe('the worker pipeline', () => {
  it('completes 500 jobs across the five models, storing every output with its sha256, one submit each', async () => {
    stack = await startStack({ latencyScale: 0.05 });
    await stack.startWorker({ WORKER_CONCURRENCY: '50', WORKER_POLL_CONCURRENCY: '50' });
    const jobs = Array.from({ length: 500 }, (_, i) => jobFor(MODELS[i % 5] as string, `job-${i}`));
    const ids = await stack.createJobs(jobs);
    const records = await stack.waitForJobs(ids, 240_000);
    expect(records.filter((r) => r.stage.name !== 'completed').map((r) => r.error)).toEqual([]);
    const stats = stack.emulator.stats();
    expect(stats.submits.accepted).toBe(500);
    expect(Object.keys(stats.submits.byMarker)).toHaveLength(500);
    expect(Object.values(stats.submits.byMarker).every((n) => n === 1)).toBe(true);

    for (const record of records) {
      const expected = record.model === 'stable-diffusion-3.5-turbo-txt2img' ? 2 : 1;
      expect(record.outputs).toHaveLength(expected);
      expect(record.cost).toBeGreaterThan(0);
      expect(record.segmind_request_id).toEqual(expect.any(String));
      record.outputs.forEach((output, index) => {
        expect(output.storage_key).toBe(`outputs/${record.id}/${index}.jpg`);
      });
    }
    // Every stored object is the bytes the record says.
    const outputs = records.flatMap((r) => r.outputs);
    for (let i = 0; i < outputs.length; i += 25) {
      const chunk = outputs.slice(i, i + 25);
      const hashes = await Promise.all(chunk.map((o) => sha256OfStored(stack as Stack, o.storage_key)));
      expect(hashes).toEqual(chunk.map((o) => o.sha256));
    }
  }, 300_000);

  it('fails a job whose inference FAILED with segmind_failed and Segmind’s own error text', async () => {
    stack = await startStack({ latencyScale: 0.01 });
    await stack.startWorker();
    const [id] = await stack.createJobs([jobFor('segmind-vega', 'fail-1', { prompt: 'marker:fail-1 emulator:fail' })]);
    const [record] = await stack.waitForJobs([id as string]);
    expect(record?.stage.name).toBe('failed');
    expect(record?.error).toEqual({
      code: 'segmind_failed',
      message: 'Inference failed: the model could not generate an image for this input',
    });
    expect(record?.outputs).toEqual([]);
  });

  it('counts each part of a job’s life and each failure by its code', async () => {
    stack = await startStack({ latencyScale: 0.01 });
    const worker = await stack.startWorker();
    const ids = await stack.createJobs([
      jobFor('segmind-vega', 'parts-1'),
      jobFor('segmind-vega', 'parts-2', { prompt: 'marker:parts-2 emulator:fail' }),
    ]);
    await stack.waitForJobs(ids);
    const text = await (await fetch(worker.metricsUrl)).text();
    const count = (stage: string) =>
      Number(
        new RegExp(`renderq_job_stage_seconds_count\\{model="segmind-vega",stage="${stage}"\\} (\\d+)`).exec(text)?.[1],
      );
    // Both were submitted; only the one that completed had a result to store.
    expect([count('queue_wait'), count('segmind'), count('store')]).toEqual([2, 1, 1]);
    expect(text).toContain('renderq_jobs_failed_total{model="segmind-vega",code="segmind_failed"} 1');
  });

  it('fails with segmind_expired when the request record is gone before the result is fetched', async () => {
    stack = await startStack({ latencyScale: 0.01, resultTtlMs: 1 });
    await stack.startWorker();
    const [id] = await stack.createJobs([jobFor('segmind-vega-rt-v1', 'expired-1')]);
    const [record] = await stack.waitForJobs([id as string]);
    expect(record?.error?.code).toBe('segmind_expired');
    // In words that name the cause, and what to check when it comes sooner than an hour.
    expect(record?.error?.message).toMatch(/Segmind no longer knows this request.*restarted without its data/);
  });

  it('fails with timeout past the per-job deadline', async () => {
    stack = await startStack({ latencyScale: 3 });
    await stack.startWorker({ JOB_DEADLINE_SECONDS: '1', POLL_MAX_INTERVAL_SECONDS: '1' });
    const [id] = await stack.createJobs([jobFor('segmind-vega-rt-v1', 'late-1')]);
    const [record] = await stack.waitForJobs([id as string], 30_000);
    expect(record?.error?.code).toBe('timeout');
  });

  it('retries 5xx answers to submit and poll, then completes', async () => {
    // A submit answered 5xx waits 2, 4, 8, 16, 32, then 60 s (±25 %), spending no attempt, so how long this
    // takes is the chance of failures in a row. At 20 % for 20 jobs, some job meets six in a row (at most
    // 78 s in all) once in 780 runs and seven (153 s) once in 39,000: the wait covers seven. Too few fail to
    // open the outage breaker (70 % of a worker's last 20), which would only hold submits for a while.
    // The poll cap of 2 s keeps a poll that met several 5xx on the grid near the request's end.
    stack = await startStack({ latencyScale: 0.01, serverErrorRate: { submit: 0.2, status: 0.2, result: 0.2 } });
    await stack.startWorker({ POLL_MAX_INTERVAL_SECONDS: '2' });
    const ids = await stack.createJobs(
      Array.from({ length: 20 }, (_, i) => jobFor('segmind-vega-rt-v1', `flaky-${i}`)),
    );
    const records = await stack.waitForJobs(ids, 180_000);
    expect(records.map((r) => r.stage.name)).toEqual(ids.map(() => 'completed'));
    const stats = stack.emulator.stats();
    expect(Object.keys(stats.errors).some((code) => Number(code) >= 500)).toBe(true);
    // A 5xx on submit started nothing: each job was still submitted (accepted) exactly once.
    expect(Object.values(stats.submits.byMarker)).toEqual(ids.map(() => 1));
  }, 240_000);

  it('keeps a job at Segmind on its poll job alone: a render job that handed its job over is not kept', async () => {
    stack = await startStack({ latencyScale: 20 });
    await stack.startWorker();
    const ids = await stack.createJobs(Array.from({ length: 5 }, (_, i) => jobFor('segmind-vega', `handed-${i}`)));
    const s = stack;
    const has = (queue: string, id: string) => s.redis.exists(`${s.prefix}:${queue}:${id}`);
    const renderQueue = new Queue(QUEUE_NAMES.render, queueOptions(s.redis, s.prefix));
    // Handed over: each at Segmind with its poll job, and no render job left to finish.
    const handedOver = async () =>
      (
        await Promise.all(
          ids.map(async (id) => (await s.store.get(id))?.stage.name === 'polling' && (await has('poll', id)) === 1),
        )
      ).every(Boolean) &&
      Object.values(await renderQueue.getJobCounts('active', 'wait', 'prioritized', 'delayed')).every((n) => n === 0);
    for (let i = 0; i < 200 && !(await handedOver()); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await handedOver()).toBe(true);
    const renderJobs = await Promise.all(ids.map((id) => has('render', id)));
    // Only the latest completed render job is kept.
    expect(renderJobs.filter((n) => n === 1).length).toBeLessThanOrEqual(1);
    await renderQueue.close();
  });

  it('cancels: a job cancelled while at Segmind stops at its next step and stores nothing', async () => {
    stack = await startStack({ latencyScale: 0.5 });
    await stack.startWorker();
    const [id] = await stack.createJobs([jobFor('segmind-vega', 'cancel-1')]);
    const store = stack.store;
    for (let i = 0; i < 100 && (await store.get(id as string))?.stage.name !== 'polling'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await store.transition(id as string, 'cancel', { name: 'cancelled' });
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const record = await store.get(id as string);
    expect(record?.stage.name).toBe('cancelled');
    expect(record?.outputs).toEqual([]);
    await expect(stack.storage.get(`outputs/${id}/0.jpg`)).rejects.toThrow(/no stored object/);
  });
});
