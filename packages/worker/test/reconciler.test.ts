import { QUEUE_NAMES, queueOptions } from '@renderq/shared';
import { Queue } from 'bullmq';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { reconcileStuckJobs } from '../src/index.js';
import { jobFor, type Stack, startStack } from './stack.js';

let stack: Stack | undefined;
let queues: Queue[] = [];
afterEach(async () => {
  await Promise.all(queues.map((q) => q.close()));
  queues = [];
  await stack?.close();
  stack = undefined;
});

async function setUp() {
  stack = await startStack();
  const renderQueue = new Queue(QUEUE_NAMES.render, queueOptions(stack.redis, stack.prefix));
  const pollQueue = new Queue(QUEUE_NAMES.poll, queueOptions(stack.redis, stack.prefix));
  queues = [renderQueue, pollQueue];
  const reconciler = reconcileStuckJobs({
    redis: stack.redis,
    prefix: stack.prefix,
    store: stack.store,
    renderQueue,
    pollQueue,
    logger: pino({ level: 'silent' }),
    staleMs: 60_000,
  });
  reconciler.stop();
  return { s: stack, renderQueue, pollQueue, reconciler };
}

const polling = (id: string) => ({
  name: 'polling' as const,
  request_id: `req-${id}`,
  status_url: `http://segmind.test/v2/requests/${id}/status`,
  response_url: `http://segmind.test/v2/requests/${id}`,
  submitted_at: new Date().toISOString(),
  polls: 3,
});

/** Backdates a job's last move so the reconciler considers it. */
async function age(s: Stack, id: string) {
  await s.redis.zadd(`${s.prefix}:working`, Date.now() - 120_000, id);
}

describe('the reconciler', () => {
  it('re-queues a polling job whose poll job was lost, and leaves a live one alone', async () => {
    const { s, pollQueue, reconciler } = await setUp();
    const [lost, live] = await s.createJobs([jobFor('segmind-vega', 'a'), jobFor('segmind-vega', 'b')]);
    for (const id of [lost, live] as string[]) {
      await s.store.transition(id, ['queued'], { name: 'submitting', since: new Date().toISOString() });
      await s.store.transition(id, ['submitting'], polling(id));
      await age(s, id);
    }
    await pollQueue.add('poll', { jobId: live }, { jobId: live, delay: 60_000 });

    expect(await reconciler.runOnce()).toBe(1);
    expect(['waiting', 'prioritized']).toContain(await (await pollQueue.getJob(lost as string))?.getState());
    expect(await (await pollQueue.getJob(live as string))?.getState()).toBe('delayed');
    // Checked jobs are not looked at again until they go stale again.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await reconciler.runOnce()).toBe(0);
  });

  it('re-queues a job stuck mid-submit, so the ambiguous-submit policy settles it', async () => {
    const { s, renderQueue, reconciler } = await setUp();
    const [id] = await s.createJobs([jobFor('segmind-vega', 'c')]);
    await s.store.transition(id as string, ['queued'], { name: 'submitting', since: new Date().toISOString() });
    await (await renderQueue.getJob(id as string))?.remove();
    await age(s, id as string);
    expect(await reconciler.runOnce()).toBe(1);
    expect(['waiting', 'prioritized']).toContain(await (await renderQueue.getJob(id as string))?.getState());
  });

  it('forgets jobs that finished', async () => {
    const { s, reconciler } = await setUp();
    const [id] = await s.createJobs([jobFor('segmind-vega', 'd')]);
    await s.store.transition(id as string, ['queued'], { name: 'submitting', since: new Date().toISOString() });
    expect(await s.redis.zscore(`${s.prefix}:working`, id as string)).not.toBeNull();
    await s.store.transition(id as string, ['submitting'], { name: 'cancelled' });
    expect(await s.redis.zscore(`${s.prefix}:working`, id as string)).toBeNull();
    expect(await reconciler.runOnce()).toBe(0);
  });
});
