/**
 * While taking jobs is paused for lack of credits, one worker at a time (a Redis
 * lock) asks Segmind for the balance every interval, and resumes the render queue
 * by itself once credits are back. It also keeps the pause-state gauge current.
 */
import type { Logger, Metrics, PauseControl } from '@renderq/shared';
import type { Redis } from 'ioredis';
import type { SegmindClient } from './segmind/segmind-client.js';

export interface CreditsWatcherOptions {
  readonly redis: Redis;
  readonly prefix: string;
  readonly pause: PauseControl;
  readonly segmind: SegmindClient;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly intervalMs: number;
  readonly recordCredits: (balance: number) => Promise<void>;
}

const REASONS = ['unauthorized', 'out_of_credits', 'rate_limited', 'operator'] as const;

export function watchCredits(options: CreditsWatcherOptions): { stop(): void } {
  const { redis, pause, segmind, metrics, logger } = options;
  const lockKey = `${options.prefix}:credits-check`;
  // The gauge is read often; the balance is asked for only once per interval across all workers.
  const tickMs = Math.min(options.intervalMs, 2_000);
  let running = false;

  const tick = async () => {
    if (running) return;
    running = true;
    try {
      const state = await pause.state();
      for (const reason of REASONS) metrics.queuePaused.set({ reason }, state.reason === reason ? 1 : 0);
      if (state.reason !== 'out_of_credits') return;
      const mine = await redis.set(lockKey, String(process.pid), 'PX', options.intervalMs, 'NX');
      if (mine !== 'OK') return;
      const credits = await segmind.credits();
      metrics.segmindCreditsRemaining.set(credits);
      await options.recordCredits(credits);
      if (credits > 0) {
        logger.info({ credits }, 'Segmind credits are back: resuming the render queue');
        await pause.resume();
        metrics.queuePaused.set({ reason: 'out_of_credits' }, 0);
      }
    } catch (error) {
      logger.warn({ err: error }, 'could not check the pause state or the credit balance');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), tickMs);
  void tick();
  return { stop: () => clearInterval(timer) };
}
