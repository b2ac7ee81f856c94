/**
 * Backs off a receiving host as a whole once it keeps failing: after `threshold`
 * failures in a row its deliveries wait (without spending attempts) for a while that
 * doubles with each further failure, up to `maxMs`. One answer that counts as success
 * closes it again. Kept in Redis, so every worker sees the same hosts.
 */
import { defineScripts, type RedisConnection, webhookHostKey } from '@renderq/shared';

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
    defineScripts(this.#redis);
  }

  /** Until when (ms since the epoch) deliveries to `host` wait; 0 when they need not. */
  async backedOffUntil(host: string, now = Date.now()): Promise<number> {
    const until = Number((await this.#redis.hget(webhookHostKey(this.#prefix, host), 'open_until')) ?? 0);
    return until > now ? until : 0;
  }

  async failed(host: string, now = Date.now()): Promise<number> {
    // host-failed-1.lua in @renderq/shared
    return this.#redis.renderqHostFailed(
      webhookHostKey(this.#prefix, host),
      String(now),
      String(this.#threshold),
      String(this.#baseMs),
      String(this.#maxMs),
    );
  }

  async succeeded(host: string): Promise<void> {
    await this.#redis.del(webhookHostKey(this.#prefix, host));
  }
}
