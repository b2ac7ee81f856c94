/**
 * How fast one tenant may enqueue: a token bucket per tenant in Redis, so every API
 * process draws from the same one. It holds up to `burst` tokens and refills at
 * `perSecond`; each job costs one token, a batch all of its jobs at once or none.
 * The requests of one tick are charged together, one script call per tenant, each
 * request all or nothing in the order they came; the clock is Redis's own, so API
 * hosts whose clocks differ still agree.
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

interface PendingCharge {
  readonly jobs: number;
  readonly resolve: (answer: readonly number[]) => void;
  readonly reject: (error: unknown) => void;
}

export class EnqueueRate {
  readonly #redis: RedisConnection;
  readonly #prefix: string;
  readonly #options: EnqueueRateOptions;
  /** Charges of this tick not yet sent, by tenant. */
  #pending = new Map<string, PendingCharge[]>();

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
    const [taken, left, waitMs = 0] = await this.#take(tenant, jobs);
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

  /** This request's answer from the tick's one script call for its tenant: taken, tokens left, ms to wait. */
  #take(tenant: string, jobs: number): Promise<readonly number[]> {
    return new Promise((resolve, reject) => {
      if (this.#pending.size === 0) setImmediate(() => this.#flush());
      const charges = this.#pending.get(tenant) ?? [];
      charges.push({ jobs, resolve, reject });
      this.#pending.set(tenant, charges);
    });
  }

  #flush(): void {
    const pending = this.#pending;
    this.#pending = new Map();
    const { perSecond, burst } = this.#options;
    for (const [tenant, charges] of pending) {
      // take-enqueue-tokens-1.lua in @renderq/shared
      this.#redis
        .renderqTakeEnqueueTokens(
          enqueueBucketKey(this.#prefix, tenant),
          String(perSecond),
          String(burst),
          ...charges.map((charge) => String(charge.jobs)),
        )
        .then(
          (answers) => {
            for (const [i, charge] of charges.entries()) charge.resolve(answers.slice(3 * i, 3 * i + 3));
          },
          (error: unknown) => {
            for (const charge of charges) charge.reject(error);
          },
        );
    }
  }
}
