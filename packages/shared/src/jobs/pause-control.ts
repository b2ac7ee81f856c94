/**
 * Taking jobs, paused and resumed for everyone. A cause that every job would meet
 * (a refused key, no credits) pauses the render queue globally — jobs keep their
 * place and no attempt is spent — and records why, for operators and /readyz.
 * Jobs already at Segmind keep being polled: only submitting stops.
 */

import type { PauseReason, PauseState } from '@renderq/contract';
import type { Queue } from 'bullmq';
import type { RedisConnection } from '../redis/create-redis.js';
import { pauseKey } from '../redis/keys.js';

export class PauseControl {
  readonly #redis: RedisConnection;
  readonly #queue: Queue;
  readonly #key: string;

  constructor(redis: RedisConnection, prefix: string, renderQueue: Queue) {
    this.#redis = redis;
    this.#queue = renderQueue;
    this.#key = pauseKey(prefix);
  }

  async pause(reason: Exclude<PauseReason, 'rate_limited'>, message: string): Promise<void> {
    // The reason first: a worker that sees the queue paused can always say why.
    await this.#redis.hset(this.#key, { reason, message, since: new Date().toISOString() });
    await this.#queue.pause();
  }

  async resume(): Promise<void> {
    await this.#queue.resume();
    await this.#redis.del(this.#key);
  }

  async state(): Promise<PauseState> {
    const [fields, paused] = await Promise.all([this.#redis.hgetall(this.#key), this.#queue.isPaused()]);
    if (!paused) return { paused: false };
    return {
      paused: true,
      ...(fields.reason ? { reason: fields.reason as PauseReason } : {}),
      ...(fields.message ? { message: fields.message } : {}),
      ...(fields.since ? { since: fields.since } : {}),
    };
  }
}
