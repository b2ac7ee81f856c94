/**
 * How fast one tenant may enqueue: a token bucket per tenant in Redis, so every API
 * process draws from the same one. It holds up to `burst` tokens and refills at
 * `perSecond`; each job costs one token, a batch all of its jobs at once or none.
 * One script call per request (auto-pipelined with the request's other commands);
 * the clock is Redis's own, so API hosts whose clocks differ still agree.
 */
import { enqueueBucketKey } from '@renderq/shared';
import type { Redis } from 'ioredis';
import { RetryLaterProblem } from '../http/problems.js';

export interface EnqueueRateOptions {
  /** Tokens added per second; 0: no limit. */
  readonly perSecond: number;
  /** The most tokens a bucket holds (and what a new bucket starts with). */
  readonly burst: number;
  /** Called for each refusal (to count them). */
  readonly onRefused?: () => void;
}

const SCRIPT = 'renderqEnqueueTokensV1';

/**
 * Takes ARGV[3] tokens from the bucket at KEYS[1] if it holds that many.
 * ARGV[1] tokens per second, ARGV[2] burst, ARGV[3] cost.
 * Returns {1, tokens left} when taken, {0, tokens there, ms until enough} when not (nothing changes then).
 * A bucket untouched long enough to be full again has expired: a missing one is full.
 */
const LUA = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = burst
if state[1] then
  tokens = math.min(burst, tonumber(state[1]) + math.max(0, now - tonumber(state[2])) * rate / 1000)
end
if tokens < cost then
  return {0, math.floor(tokens), math.ceil((cost - tokens) * 1000 / rate)}
end
tokens = tokens - cost
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 1000)
return {1, math.floor(tokens)}
`;

type TakeTokens = (key: string, rate: string, burst: string, cost: string) => Promise<[number, number, number?]>;

export class EnqueueRate {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #options: EnqueueRateOptions;

  constructor(redis: Redis, prefix: string, options: EnqueueRateOptions) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#options = options;
    if (!(SCRIPT in redis)) redis.defineCommand(SCRIPT, { numberOfKeys: 1, lua: LUA });
  }

  /** Charges `jobs` tokens to `tenant`, or throws a RetryLaterProblem (429) saying when there will be enough. */
  async charge(tenant: string, jobs: number): Promise<void> {
    const { perSecond, burst } = this.#options;
    if (perSecond === 0 || jobs === 0) return;
    const take = (this.#redis as unknown as Record<string, TakeTokens>)[SCRIPT] as TakeTokens;
    const [taken, left, waitMs = 0] = await take.call(
      this.#redis,
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
