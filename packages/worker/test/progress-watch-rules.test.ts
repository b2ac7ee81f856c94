// The progress watch's rules, with a stand-in consumer and queue: what counts as a stall (jobs due,
// none taken for the stall period) and every way of waiting on purpose that must not.
import { createMetrics } from '@renderq/shared';
import type { Queue } from 'bullmq';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Consumer } from '../src/consumer.js';
import { type ProgressWatch, watchProgress } from '../src/progress-watch.js';

const STALL_MS = 400;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Stand {
  consumer: { queueName: string; holding: boolean; busy: boolean; lastTakenAt: number; renewals: number };
  queue: { paused: boolean; rateLimitMs: number; ready: number };
}

function stand(): Stand {
  return {
    consumer: { queueName: 'render', holding: false, busy: false, lastTakenAt: Date.now(), renewals: 0 },
    queue: { paused: false, rateLimitMs: 0, ready: 3 },
  };
}

let watch: ProgressWatch | undefined;
afterEach(async () => {
  await watch?.stop();
  watch = undefined;
});

function start(s: Stand) {
  const consumer = Object.assign(s.consumer, {
    get worker() {
      return {};
    },
    renew() {
      s.consumer.renewals++;
    },
  }) as unknown as Consumer;
  const queue = {
    isPaused: async () => s.queue.paused,
    getRateLimitTtl: async () => s.queue.rateLimitMs,
    getJobCounts: async () => ({ waiting: s.queue.ready, prioritized: 0 }),
    getDelayedCount: async () => 0,
  } as unknown as Queue;
  const metrics = createMetrics({ processMetrics: false, role: 'worker' });
  watch = watchProgress({
    queues: [{ consumer, queue }],
    stallMs: STALL_MS,
    metrics,
    logger: pino({ level: 'silent' }),
  });
  return { watch, metrics };
}

describe('the progress watch', () => {
  it('counts jobs due and none taken for the stall period as a stall, replaces the worker, and clears when one is taken', async () => {
    const s = stand();
    const { watch: w, metrics } = start(s);
    await sleep(STALL_MS / 2);
    expect(w.stalled()).toEqual([]); // due only a moment: no stall yet
    await sleep(STALL_MS + 300);
    expect(w.stalled()).toEqual([expect.stringMatching(/render queue has jobs due/)]);
    expect(s.consumer.renewals).toBe(1);
    expect(await metrics.registry.getSingleMetricAsString('renderq_worker_stalled')).toContain('queue="render"} 1');
    // Nothing taken: it stays stalled (and another replacement follows a period later).
    await sleep(STALL_MS + 300);
    expect(w.stalled()).toHaveLength(1);
    expect(s.consumer.renewals).toBe(2);
    s.consumer.lastTakenAt = Date.now();
    await sleep(300);
    expect(w.stalled()).toEqual([]);
    expect(await metrics.registry.getSingleMetricAsString('renderq_worker_stalled')).toContain('queue="render"} 0');
  });

  for (const [why, wait] of [
    ['not started or paused (storage unusable)', (s: Stand) => (s.consumer.holding = true)],
    ['every slot busy with a step', (s: Stand) => (s.consumer.busy = true)],
    ['the queue paused (credits, operator)', (s: Stand) => (s.queue.paused = true)],
    ['a rate limit holding the queue', (s: Stand) => (s.queue.rateLimitMs = 5_000)],
    ['nothing due', (s: Stand) => (s.queue.ready = 0)],
  ] as const) {
    it(`does not count ${why} as a stall`, async () => {
      const s = stand();
      wait(s);
      const { watch: w } = start(s);
      await sleep(2 * STALL_MS + 300);
      expect(w.stalled()).toEqual([]);
      expect(s.consumer.renewals).toBe(0);
    });
  }

  it('replaces nothing once stopped', async () => {
    const s = stand();
    const { watch: w } = start(s);
    await w.stop();
    await sleep(2 * STALL_MS);
    expect(s.consumer.renewals).toBe(0);
  });
});
