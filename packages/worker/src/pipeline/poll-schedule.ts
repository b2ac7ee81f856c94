/**
 * When to poll: each model's latency distribution, learned from Segmind's own
 * `total_time` of completed requests and kept in Redis (the last 256 per model, so
 * every worker learns from every other), turned into poll times by poll-plan.ts.
 * A worker sends what it learned once a second, not once per completed job.
 */
import { modelLatencyKey, type RedisConnection } from '@renderq/shared';
import { type LatencyQuantiles, latencyQuantiles, nextPollInMs, UNKNOWN_MODEL } from './poll-plan.js';

export interface PollScheduleOptions {
  readonly redis: RedisConnection;
  readonly prefix: string;
  /** Longest wait between polls. */
  readonly maxIntervalMs: number;
  /** Detection lag aimed at, as a share of the model's median latency. @defaultValue 0.1 */
  readonly lagShare?: number;
}

/** Latencies kept per model: enough for a 90th percentile, few enough to follow a change within minutes. */
const SAMPLES = 256;
/** Learned quantiles are re-read from Redis after this long. */
const CACHE_MS = 5_000;
/** Latencies learned here are sent to Redis together, this often. */
const FLUSH_MS = 1_000;

export class PollSchedule {
  readonly #options: PollScheduleOptions;
  readonly #cache = new Map<string, { quantiles: LatencyQuantiles; readAt: number }>();
  /** Latencies not yet sent, by model. */
  readonly #unsent = new Map<string, string[]>();
  #flushTimer: NodeJS.Timeout | undefined;

  constructor(options: PollScheduleOptions) {
    this.#options = options;
  }

  #key(model: string): string {
    return modelLatencyKey(this.#options.prefix, model);
  }

  /** The model's learned latency quantiles, or a wide guess until five requests have completed. */
  async quantiles(model: string): Promise<LatencyQuantiles> {
    const cached = this.#cache.get(model);
    if (cached && Date.now() - cached.readAt < CACHE_MS) return cached.quantiles;
    const samples = (await this.#options.redis.lrange(this.#key(model), 0, SAMPLES - 1)).map(Number);
    const quantiles = latencyQuantiles(samples.filter((ms) => ms >= 0)) ?? UNKNOWN_MODEL;
    this.#cache.set(model, { quantiles, readAt: Date.now() });
    return quantiles;
  }

  /** Learns from a completed request's server-side duration. */
  async observe(model: string, durationMs: number): Promise<void> {
    if (!(durationMs >= 0)) return;
    const unsent = this.#unsent.get(model) ?? [];
    unsent.push(String(Math.round(durationMs)));
    this.#unsent.set(model, unsent);
    // Until a model is known, each completion may be the one that makes it known: sent and read again at once.
    if (this.#cache.get(model)?.quantiles === UNKNOWN_MODEL) {
      this.#cache.delete(model);
      await this.flush();
      return;
    }
    this.#flushTimer ??= setTimeout(() => {
      this.flush().catch(() => undefined);
    }, FLUSH_MS).unref();
  }

  /** Sends the latencies learned here and not yet sent (a failure loses them: they are only samples). */
  async flush(): Promise<void> {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    if (this.#unsent.size === 0) return;
    const pipeline = this.#options.redis.pipeline();
    for (const [model, samples] of this.#unsent) {
      pipeline.lpush(this.#key(model), ...samples).ltrim(this.#key(model), 0, SAMPLES - 1);
    }
    this.#unsent.clear();
    await pipeline.exec();
  }

  /** Milliseconds from now until the next poll of a request submitted at `submittedAtMs`. */
  async nextPollDelayMs(model: string, submittedAtMs: number, now = Date.now()): Promise<number> {
    return nextPollInMs(await this.quantiles(model), Math.max(0, now - submittedAtMs), {
      lagShare: this.#options.lagShare ?? 0.1,
      maxIntervalMs: this.#options.maxIntervalMs,
    });
  }
}
