// SEGMIND_MAX_INFLIGHT: submits wait while that many requests are at Segmind.
import { afterEach, describe, expect, it } from 'vitest';
import { InflightCount } from '../src/pipeline/inflight-count.js';
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

describe('the shared in-flight count', () => {
  it('reads the count once per interval, however many submits ask, and counts its own reservations', async () => {
    let reads = 0;
    let atSegmind = 3;
    const count = new InflightCount(async () => {
      reads++;
      return atSegmind;
    }, 1_000);
    const answers = await Promise.all(Array.from({ length: 4 }, () => count.reserve(5, 0)));
    // Concurrent steps share one read, and two of them fill the cap: the others are refused.
    expect(reads).toBe(1);
    expect(answers.filter(Boolean)).toHaveLength(2);
    atSegmind = 0;
    expect(await count.reserve(5, 500)).toBe(false);
    expect(reads).toBe(1);
    // The next read sees what finished meanwhile.
    expect(await count.reserve(5, 1_000)).toBe(true);
    expect(reads).toBe(2);
  });

  it('reads again after a failed read', async () => {
    let fail = true;
    const count = new InflightCount(async () => {
      if (fail) throw new Error('Redis is away');
      return 0;
    }, 1_000);
    await expect(count.reserve(5, 0)).rejects.toThrow('Redis is away');
    fail = false;
    expect(await count.reserve(5, 1)).toBe(true);
  });
});
