// The autoscaling signal counts the jobs a worker could take now — waiting, prioritized and
// delayed jobs whose time has come — and not requests waiting at Segmind for their next poll
// (poll jobs delayed into the future), checked against a real Redis and BullMQ's own scripts.
import { type RedisHandle, startRedis, uniqueName } from '@renderq/testing';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics, createRedis, QUEUE_NAMES, queueOptions, readQueueDepths } from '../src/index.js';
import { readyJobCount } from '../src/observability/queue-depths.js';

let server: RedisHandle;
let redis: Redis;
const queues: Queue[] = [];

beforeAll(async () => {
  server = await startRedis();
  redis = createRedis(server.url, 'worker');
});
afterEach(async () => {
  await Promise.all(queues.splice(0).map((queue) => queue.close()));
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

function open(name: string): Queue {
  const queue = new Queue(name, queueOptions(redis, uniqueName('depths')));
  queues.push(queue);
  return queue;
}

/** Puts a delayed job's due time in the past without waiting for it (what time passing does). */
async function makeDue(queue: Queue, jobId: string, dueAt: number): Promise<void> {
  await redis.zadd(`${queue.opts.prefix}:${queue.name}:delayed`, dueAt * 0x1000, jobId);
}

describe('jobs ready for a worker', () => {
  it('counts waiting, prioritized and due delayed jobs, not jobs delayed into the future', async () => {
    const queue = open(QUEUE_NAMES.render);
    await queue.add('job', { jobId: 'w1' });
    await queue.add('job', { jobId: 'w2' });
    await queue.add('job', { jobId: 'p1' }, { priority: 10 });
    await queue.add('job', { jobId: 'd1' }, { delay: 60_000, jobId: 'due-1' });
    await queue.add('job', { jobId: 'd2' }, { delay: 60_000, jobId: 'due-2' });
    await queue.add('job', { jobId: 'f1' }, { delay: 60_000 });
    const now = Date.now();
    await makeDue(queue, 'due-1', now - 5_000);
    await makeDue(queue, 'due-2', now);
    expect(await queue.getJobCounts('waiting', 'prioritized', 'delayed')).toEqual({
      waiting: 2,
      prioritized: 1,
      delayed: 3,
    });
    expect(await readyJobCount(queue, now)).toBe(2 + 1 + 2);
    // A millisecond earlier, the job due exactly now is not yet due.
    expect(await readyJobCount(queue, now - 1)).toBe(2 + 1 + 1);
  });

  it('does not count requests waiting at Segmind: poll jobs delayed until their next turn', async () => {
    const poll = open(QUEUE_NAMES.poll);
    for (let i = 0; i < 5; i++) await poll.add('poll', { jobId: `at-segmind-${i}` }, { delay: 15_000 });
    expect(await readyJobCount(poll)).toBe(0);
    await poll.add('poll', { jobId: 'finished-at-segmind' });
    expect(await readyJobCount(poll)).toBe(1);
  });

  it('is exposed per queue as renderq_queue_ready_jobs, beside the depths by state', async () => {
    const render = open(QUEUE_NAMES.render);
    const poll = open(QUEUE_NAMES.poll);
    await render.add('job', { jobId: 'a' });
    await render.add('job', { jobId: 'b' }, { priority: 1 });
    await poll.add('poll', { jobId: 'c' }, { delay: 30_000 });
    const metrics = createMetrics({ processMetrics: false, queueCounts: () => readQueueDepths([render, poll]) });
    const text = await metrics.registry.metrics();
    expect(text).toContain('renderq_queue_ready_jobs{queue="render"} 2');
    expect(text).toContain('renderq_queue_ready_jobs{queue="poll"} 0');
    expect(text).toContain('renderq_queue_jobs{queue="poll",state="delayed"} 1');
    expect(text).toContain('renderq_queue_jobs{queue="render",state="prioritized"} 1');
  });
});
