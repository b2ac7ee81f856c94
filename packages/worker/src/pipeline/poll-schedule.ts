/**
 * When to poll. The first poll comes near the time the model usually takes —
 * learned per model from Segmind's own `total_time` of completed requests, kept in
 * Redis so every worker shares it — and later polls back off with jitter up to a
 * cap. Few polls are cheap for us and for Segmind.
 */
import { modelDurationKey, type RedisConnection } from '@renderq/shared';

export interface PollScheduleOptions {
  readonly redis: RedisConnection;
  readonly prefix: string;
  /** Longest wait between polls. @defaultValue 15_000 */
  readonly maxIntervalMs: number;
  /** Before anything is learned of a model. @defaultValue 3_000 */
  readonly defaultDurationMs?: number;
}

/** Weight of the newest observation in the moving average. */
const LEARNING_RATE = 0.2;
/** Cached averages are re-read from Redis after this long. */
const CACHE_MS = 5_000;

export class PollSchedule {
  readonly #options: PollScheduleOptions;
  readonly #key: string;
  readonly #cache = new Map<string, { durationMs: number; readAt: number }>();

  constructor(options: PollScheduleOptions) {
    this.#options = options;
    this.#key = modelDurationKey(options.prefix);
  }

  /** The usual time from submit to COMPLETED for `model`. */
  async expectedDurationMs(model: string): Promise<number> {
    const cached = this.#cache.get(model);
    if (cached && Date.now() - cached.readAt < CACHE_MS) return cached.durationMs;
    const stored = Number(await this.#options.redis.hget(this.#key, model));
    const durationMs = stored > 0 ? stored : (this.#options.defaultDurationMs ?? 3_000);
    this.#cache.set(model, { durationMs, readAt: Date.now() });
    return durationMs;
  }

  /** Learns from a completed request's server-side duration. */
  async observe(model: string, durationMs: number): Promise<void> {
    if (!(durationMs > 0)) return;
    const previous = Number(await this.#options.redis.hget(this.#key, model));
    const next = previous > 0 ? previous + LEARNING_RATE * (durationMs - previous) : durationMs;
    await this.#options.redis.hset(this.#key, model, String(Math.round(next)));
    this.#cache.set(model, { durationMs: next, readAt: Date.now() });
  }

  /**
   * Milliseconds from now until poll number `polls + 1`, for a request submitted
   * at `submittedAtMs`.
   */
  async nextPollDelayMs(model: string, submittedAtMs: number, polls: number, now = Date.now()): Promise<number> {
    const expected = await this.expectedDurationMs(model);
    if (polls === 0) {
      // Just after the usual finish: one poll is then most often enough.
      const firstAt = submittedAtMs + expected * 1.05 + 50;
      return clamp(firstAt - now, 0, this.#options.maxIntervalMs);
    }
    const base = Math.max(250, expected * 0.15);
    const backoff = base * 1.6 ** (polls - 1);
    const jitter = 0.8 + Math.random() * 0.4;
    return clamp(backoff * jitter, 100, this.#options.maxIntervalMs);
  }
}

function clamp(n: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, n));
}
