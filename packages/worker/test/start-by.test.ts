// Start-by deadlines: a job not submitted by its `start_by` ends `expired` — costing nothing, with its
// webhook — whether a worker takes it late or the reconciler finds it waiting; none is ever submitted.
import { startWebhookReceiver, type WebhookReceiver } from '@renderq/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { jobFor, type Stack, startStack } from './stack.js';

let stack: Stack | undefined;
let receiver: WebhookReceiver | undefined;

afterEach(async () => {
  await stack?.close();
  await receiver?.close();
  stack = undefined;
  receiver = undefined;
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('start-by deadlines', () => {
  it('expires queued jobs past their deadline when a worker takes them: cost 0, webhook sent, never submitted', async () => {
    stack = await startStack({ latencyScale: 0.01 });
    receiver = await startWebhookReceiver();
    const s = stack;
    // Held back while the deadline passes (an operator pause, as a backlog would).
    await s.pause.pause('operator', 'start-by test');
    const startBy = new Date(Date.now() + 1_000).toISOString();
    // One by one: a batch's jobs send to the batch's webhook.
    const late: string[] = [];
    for (const i of [1, 2, 3]) {
      const job = { ...jobFor('segmind-vega-rt-v1', `late-${i}`), startBy, webhookUrl: `${receiver.url}/late` };
      late.push(...(await s.createJobs([job])));
    }
    const [onTime] = await s.createJobs([
      { ...jobFor('segmind-vega-rt-v1', 'on-time'), startBy: new Date(Date.now() + 600_000).toISOString() },
    ]);
    await s.startWorker();
    await sleep(1_500);
    await s.pause.resume();
    const records = await s.waitForJobs([...late, onTime as string], 60_000);
    expect(records.map((r) => r.stage.name)).toEqual(['expired', 'expired', 'expired', 'completed']);
    for (const record of records.slice(0, 3)) {
      expect(record.cost).toBe(0);
      expect(record.segmind_request_id).toBeNull();
      expect(record.start_by).toBe(startBy);
    }
    const hooks = await receiver.waitFor(3, (hook) => hook.path === '/late');
    expect(hooks.map((hook) => JSON.parse(hook.body).type)).toEqual(['job.expired', 'job.expired', 'job.expired']);
    expect(Object.keys(s.emulator.stats().submits.byMarker)).toEqual(['on-time']);
  }, 90_000);

  it('expires jobs that wait past their deadline without a worker taking them (the reconciler), and counts them in their batch', async () => {
    stack = await startStack({ latencyScale: 0.01 });
    const s = stack;
    await s.pause.pause('operator', 'start-by test');
    const startBy = new Date(Date.now() + 1_000).toISOString();
    const ids = await s.createJobs([1, 2].map((i) => ({ ...jobFor('segmind-vega-rt-v1', `waiting-${i}`), startBy })));
    // The queue stays paused: only the reconciler, checking jobs unmoved for 1 s, can end them.
    await s.startWorker({ WORKER_RECONCILE_AFTER_MS: '1000' });
    const records = await s.waitForJobs(ids, 60_000);
    expect(records.map((r) => r.stage.name)).toEqual(['expired', 'expired']);
    const batch = await s.store.getBatch(records[0]?.batch_id as string);
    expect(batch?.counts).toMatchObject({ total: 2, expired: 2, queued: 0 });
    expect(batch?.status).toBe('failed');
    expect(batch?.finished_at).not.toBeNull();
    expect(s.emulator.stats().submits.byMarker).toEqual({});
  }, 90_000);
});
