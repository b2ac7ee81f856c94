// SEGMIND_MAX_INFLIGHT: submits wait while that many requests are at Segmind.
import { afterEach, describe, expect, it } from 'vitest';
import { jobFor, type Stack, startStack } from './stack.js';

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

describe('the in-flight cap', () => {
  it('never has more than SEGMIND_MAX_INFLIGHT requests at Segmind, and completes every job', async () => {
    stack = await startStack({ latencyScale: 0.4 }); // segmind-vega-rt-v1: 600 ms per request
    const s = stack;
    // One submit slot: the cap is checked before each submit, so nothing overshoots it.
    await s.startWorker({ SEGMIND_MAX_INFLIGHT: '5', WORKER_CONCURRENCY: '1' });
    const ids = await s.createJobs(Array.from({ length: 25 }, (_, i) => jobFor('segmind-vega-rt-v1', `cap-${i}`)));
    let most = 0;
    const sampler = setInterval(() => {
      const { queued, processing } = s.emulator.stats().requests;
      most = Math.max(most, queued + processing);
    }, 20);
    try {
      const records = await s.waitForJobs(ids, 90_000);
      expect(records.map((r) => r.stage.name)).toEqual(ids.map(() => 'completed'));
    } finally {
      clearInterval(sampler);
    }
    expect(most).toBeGreaterThanOrEqual(4);
    expect(most).toBeLessThanOrEqual(5);
  }, 120_000);
});
