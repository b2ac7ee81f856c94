/**
 * Backs off a receiving host as a whole once it keeps failing: after `threshold`
 * failures in a row its deliveries wait (without spending attempts) for a while that
 * doubles with each further failure, up to `maxMs`. One answer that counts as success
 * closes it again. Kept in Redis, so every worker sees the same hosts.
 */
import { webhookHostKey } from '@renderq/shared';
import type { Redis } from 'ioredis';

export interface HostBackoffOptions {
  readonly redis: Redis;
  readonly prefix: string;
  readonly threshold: number;
  /** @defaultValue 30 s */
  readonly baseMs?: number;
  /** @defaultValue 1 h */
  readonly maxMs?: number;
}

/** KEYS[1] the host; ARGV: now, threshold, base, max. Returns until when the host is backed off (0: not). */
const FAILED_LUA = `
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local threshold = tonumber(ARGV[2])
local untilMs = 0
if failures >= threshold then
  local wait = math.min(tonumber(ARGV[4]), tonumber(ARGV[3]) * 2 ^ math.min(failures - threshold, 30))
  untilMs = tonumber(ARGV[1]) + wait
  redis.call('HSET', KEYS[1], 'open_until', untilMs)
end
redis.call('PEXPIRE', KEYS[1], 86400000)
return untilMs
`;

export class HostBackoff {
  readonly #redis: Redis;
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
    if (!('renderqHostFailedV1' in this.#redis)) {
      this.#redis.defineCommand('renderqHostFailedV1', { numberOfKeys: 1, lua: FAILED_LUA });
    }
  }

  /** Until when (ms since the epoch) deliveries to `host` wait; 0 when they need not. */
  async backedOffUntil(host: string, now = Date.now()): Promise<number> {
    const until = Number((await this.#redis.hget(webhookHostKey(this.#prefix, host), 'open_until')) ?? 0);
    return until > now ? until : 0;
  }

  async failed(host: string, now = Date.now()): Promise<number> {
    const command = (this.#redis as unknown as Record<string, (key: string, ...args: string[]) => Promise<number>>)
      .renderqHostFailedV1;
    if (!command) throw new Error('host backoff script is not defined on this connection');
    return command.call(
      this.#redis,
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
