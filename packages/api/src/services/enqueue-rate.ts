/**
 * How fast one tenant may enqueue: a token bucket per tenant in Redis, so every API
 * process draws from the same one. It holds up to `burst` tokens and refills at
 * `perSecond`; each job costs one token, a batch all of its jobs at once or none.
 * One script call per request (auto-pipelined with the request's other commands);
 * the clock is Redis's own, so API hosts whose clocks differ still agree.
 */
import { defineScripts, enqueueBucketKey, type RedisConnection } from '@renderq/shared';
import { RetryLaterProblem } from '../http/problems.js';

export interface EnqueueRateOptions {
  /** Tokens added per second; 0: no limit. */
  readonly perSecond: number;
  /** The most tokens a bucket holds (and what a new bucket starts with). */
  readonly burst: number;
  /** Called for each refusal (to count them). */
  readonly onRefused?: () => void;
}

export class EnqueueRate {
  readonly #redis: RedisConnection;
  readonly #prefix: string;
  readonly #options: EnqueueRateOptions;

  constructor(redis: RedisConnection, prefix: string, options: EnqueueRateOptions) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#options = options;
    defineScripts(redis);
  }

  /** Charges `jobs` tokens to `tenant`, or throws a RetryLaterProblem (429) saying when there will be enough. */
  async charge(tenant: string, jobs: number): Promise<void> {
    const { perSecond, burst } = this.#options;
    if (perSecond === 0 || jobs === 0) return;
    // take-enqueue-tokens-1.lua in @renderq/shared
    const [taken, left, waitMs = 0] = await this.#redis.renderqTakeEnqueueTokens(
      enqueueBucketKey(this.#prefix, tenant),
      String(perSecond),
      String(burst),
      String(jobs),
    );
    if (taken === 1) return;
    this.#options.onRefused?.();
    const seconds = Math.max(1, Math.ceil(waitMs / 1000));
    throw new RetryLaterProblem(
      'too_many_requests',
      `tenant ${tenant} may enqueue ${perSecond} jobs per second (at most ${burst} at once); ` +
        `this request needs ${jobs} and ${left} are available: retry in ${seconds} s`,
      seconds,
    );
  }
}
