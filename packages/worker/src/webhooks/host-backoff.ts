/**
 * Backs off a receiving host as a whole once it keeps failing: after `threshold`
 * failures in a row its deliveries wait (without spending attempts) for a while that
 * doubles with each further failure, up to `maxMs`. One answer that counts as success
 * closes it again. Kept in Redis, so every worker sees the same hosts; an attempt's
 * effect on its host is written with the attempt itself (record-attempt-3-or-4.lua).
 */
import type { AttemptOutcome } from '@renderq/contract';
import type { HostNote, RedisConnection } from '@renderq/shared';
import { webhookHostKey } from '@renderq/shared';

export interface HostBackoffOptions {
  readonly redis: RedisConnection;
  readonly prefix: string;
  readonly threshold: number;
  /** @defaultValue 30 s */
  readonly baseMs?: number;
  /** @defaultValue 1 h */
  readonly maxMs?: number;
}

export class HostBackoff {
  readonly #redis: RedisConnection;
  readonly #prefix: string;
  readonly #threshold: number;
  readonly #baseMs: number;
  readonly #maxMs: number;

  constructor(options: HostBackoffOptions) {
    this.#redis = options.redis;
    this.#prefix = options.prefix;
    this.#threshold = options.threshold;
    this.#baseMs = options.baseMs ?? 30_000;
    this.#maxMs = options.maxMs ?? 3_600_000;
  }

  /** Until when (ms since the epoch) deliveries to `host` wait; 0 when they need not. */
  async backedOffUntil(host: string, now = Date.now()): Promise<number> {
    const until = Number((await this.#redis.hget(webhookHostKey(this.#prefix, host), 'open_until')) ?? 0);
    return until > now ? until : 0;
  }

  /**
   * What an attempt's outcome means for its host, to record with the attempt: an answer that
   * counts as success clears its failures, a failure counts; a refusal (a private address,
   * never connected to) says nothing about it.
   */
  note(host: string, outcome: AttemptOutcome, now = Date.now()): HostNote | undefined {
    if (outcome === 'delivered' || outcome === 'gone') return { host, result: 'succeeded' };
    if (outcome !== 'failed') return undefined;
    return {
      host,
      result: 'failed',
      now,
      threshold: this.#threshold,
      baseMs: this.#baseMs,
      maxMs: this.#maxMs,
    };
  }
}
