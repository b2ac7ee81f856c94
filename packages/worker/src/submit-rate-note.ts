/**
 * Tells the API what submit rate the workers' budget allows now, so that it can estimate when a
 * queued job will start (docs/api.md): every few seconds each worker writes the budget's rate to
 * one key that lapses when no worker is left to refresh it. One write per worker per interval.
 */
import { type Logger, type RedisConnection, submitRateKey } from '@renderq/shared';
import type { RateBudget } from './segmind/rate-budget.js';

const INTERVAL_MS = 5_000;
/** Without a worker to refresh it, the note lapses: no estimate is better than a stale one. */
const LAPSE_MS = 30_000;

/** What the key holds (JSON). */
interface SubmitRateNote {
  /** Submits per second the budget allows now. */
  readonly per_second: number;
  /** Whether Segmind's limit is known or learned, rather than still being sought. */
  readonly learned: boolean;
  /** Until when (ms since the epoch) a 429 holds every submit; 0: none. */
  readonly held_until: number;
}

export function startSubmitRateNote(options: {
  readonly redis: RedisConnection;
  readonly prefix: string;
  readonly budget: RateBudget;
  readonly logger: Logger;
}): { stop(): void } {
  const key = submitRateKey(options.prefix);
  const write = async () => {
    const now = Date.now();
    const state = await options.budget.state(now);
    if (!state) return;
    const note: SubmitRateNote = {
      per_second: state.perSecond,
      learned: state.learned,
      held_until: state.heldForMs > 0 ? now + state.heldForMs : 0,
    };
    await options.redis.set(key, JSON.stringify(note), 'PX', LAPSE_MS);
  };
  const tick = () =>
    write().catch((error: unknown) => options.logger.debug({ err: error }, 'could not note the submit rate'));
  void tick();
  const timer = setInterval(tick, INTERVAL_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
