/**
 * While taking jobs is paused for lack of credits, one worker at a time (a Redis
 * lock) asks Segmind for the balance every interval, records it for everyone (the
 * credits gauge of every process reads it), and resumes the render queue by itself
 * once credits are back.
 */
import { creditsCheckLockKey, type Logger, type PauseControl, type RedisConnection } from '@renderq/shared';
import type { SegmindClient } from './segmind/segmind-client.js';

export interface CreditsWatcherOptions {
  readonly redis: RedisConnection;
  readonly prefix: string;
  readonly pause: PauseControl;
  readonly segmind: SegmindClient;
  readonly logger: Logger;
  readonly intervalMs: number;
  readonly recordCredits: (balance: number) => Promise<void>;
}

export function watchCredits(options: CreditsWatcherOptions): { stop(): void } {
  const { redis, pause, segmind, logger } = options;
  const lockKey = creditsCheckLockKey(options.prefix);
  // The pause is looked at often; the balance is asked for only once per interval across all workers.
  const tickMs = Math.min(options.intervalMs, 2_000);
  let running = false;

  const tick = async () => {
    if (running) return;
    running = true;
    try {
      const state = await pause.state();
      if (state.reason !== 'out_of_credits') return;
      const mine = await redis.set(lockKey, String(process.pid), 'PX', options.intervalMs, 'NX');
      if (mine !== 'OK') return;
      const credits = await segmind.credits();
      await options.recordCredits(credits);
      if (credits > 0) {
        logger.info({ credits }, 'Segmind credits are back: resuming the render queue');
        await pause.resume();
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
