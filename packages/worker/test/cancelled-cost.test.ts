// A job cancelled while its request is at Segmind is billed by Segmind all the same: the
// worker follows the request to the end without storing anything, then records what it cost
// on the (still cancelled) job and its batch, and sends no second webhook. Workers as child
// processes, the Segmind emulator, real Redis and S3, a real webhook receiver.
import { JobStore, QUEUE_NAMES, queueOptions } from '@renderq/shared';
import { type ReceivedWebhook, startWebhookReceiver, type WebhookReceiver } from '@renderq/testing';
import { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { jobFor, type Stack, startStack } from './stack.js';

let stack: Stack | undefined;
let receiver: WebhookReceiver | undefined;
let queue: Queue | undefined;
afterEach(async () => {
  await queue?.close();
  await stack?.close();
  await receiver?.close();
  stack = undefined;
  receiver = undefined;
  queue = undefined;
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A job store that records webhook events, as the API's does when it cancels. */
function cancellingStore(s: Stack): JobStore {
  queue = new Queue(QUEUE_NAMES.render, queueOptions(s.redis, s.prefix));
  return new JobStore({ redis: s.redis, queue, prefix: s.prefix, events: s.events });
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`still not there: ${JSON.stringify(value)}`);
    await sleep(100);
  }
}

describe('a job cancelled while its request is at Segmind', () => {
  it('gets the cost Segmind charged, on the job and its batch; stores nothing; sends one webhook', async () => {
    stack = await startStack({ latencyScale: 0.5 });
    receiver = await startWebhookReceiver();
    await stack.startWorker();
    const cancelling = cancellingStore(stack);
    const { batch, jobIds, enqueued } = await stack.store.createBatch(
      { tenant: 'test', webhookUrl: `${receiver.url}/hooks`, webhookEvents: ['job.cancelled'] },
      [jobFor('segmind-vega', 'cost-done'), jobFor('segmind-vega', 'cost-cancelled')],
    );
    await enqueued;
    const [done, cancelled] = jobIds as [string, string];
    await until(
      () => stack!.store.get(cancelled),
      (record) => record?.stage.name === 'polling',
    );
    expect((await cancelling.transition(cancelled, 'cancel', { name: 'cancelled' })).ok).toBe(true);
    expect((await stack.store.get(cancelled))?.cost).toBeNull();

    const settled = await until(
      () => stack!.store.get(cancelled),
      (record) => record?.cost !== null,
    );
    await stack.waitForJobs([done]);
    const spent = stack.emulator.stats().credits.spent;
    const completed = await stack.store.get(done);
    expect(settled).toMatchObject({ stage: { name: 'cancelled' }, outputs: [], cancelled_request: null });
    expect((settled?.cost ?? 0) + (completed?.cost ?? 0)).toBeCloseTo(spent, 9);
    expect(settled?.cost).toBe(0.002);
    expect((await stack.store.getBatch(batch.id))?.cost).toBeCloseTo(spent, 9);
    // Its result was never fetched or stored.
    await expect(stack.storage.get(`outputs/${cancelled}/0.jpg`)).rejects.toThrow(/no stored object/);
    // One job.cancelled, however long the request was followed after it.
    await receiver.waitFor(1);
    await sleep(1_000);
    expect(receiver.received.map((hook: ReceivedWebhook) => JSON.parse(hook.body).type)).toEqual(['job.cancelled']);
    expect(await stack.events.forSubject('job', cancelled)).toHaveLength(1);
  }, 90_000);

  it('is followed when the cancel came while its submit was still being answered', async () => {
    stack = await startStack({ latencyScale: 0.05, submitDelayMs: 1_500 });
    await stack.startWorker();
    const cancelling = cancellingStore(stack);
    const [id] = (await stack.createJobs([jobFor('segmind-vega-rt-v1', 'cost-submitting')])) as [string];
    await until(
      () => stack!.store.get(id),
      (record) => record?.stage.name === 'submitting',
    );
    expect((await cancelling.transition(id, 'cancel', { name: 'cancelled' })).ok).toBe(true);
    const settled = await until(
      () => stack!.store.get(id),
      (record) => record?.cost !== null,
    );
    expect(settled).toMatchObject({
      stage: { name: 'cancelled' },
      segmind_request_id: expect.any(String),
      outputs: [],
      cancelled_request: null,
      cost: stack.emulator.stats().credits.spent,
    });
    expect(stack.emulator.stats().submits.byMarker['cost-submitting']).toBe(1);
  }, 90_000);

  it('is given up at the job deadline, its cost left unknown', async () => {
    stack = await startStack({ latencyScale: 3 });
    await stack.startWorker({ JOB_DEADLINE_SECONDS: '2', POLL_MAX_INTERVAL_SECONDS: '1' });
    const cancelling = cancellingStore(stack);
    const [id] = (await stack.createJobs([jobFor('segmind-vega', 'cost-late')])) as [string];
    await until(
      () => stack!.store.get(id),
      (record) => record?.stage.name === 'polling',
    );
    await cancelling.transition(id, 'cancel', { name: 'cancelled' });
    const given = await until(
      () => stack!.store.get(id),
      (record) => record?.cancelled_request === null,
    );
    expect(given).toMatchObject({ stage: { name: 'cancelled' }, cost: null, outputs: [] });
  }, 90_000);
});
