/**
 * Segmind's submit rate limit as one budget in Redis per API key, shared by every
 * worker: submits draw tokens from it at a paced rate instead of all firing at a
 * window's edge. The rate is learned from Segmind's answers: it starts at
 * SEGMIND_RATE_LIMIT when set (otherwise at 20/s, doubling about every 35 submits
 * until a 429 says where the limit is); a 429 cuts it at once to 95 % of what the
 * window that just closed allowed (submits accepted since the previous reset, over
 * the time to the reset Segmind names) and holds every submit until that reset;
 * while submits succeed it grows back slowly (+0.1 % a submit), so a limit that
 * was raised is found again. One small script per submit, and one counter
 * increment (not waited for) per submit Segmind accepted.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

export interface RateBudgetOptions {
  readonly redis: Redis;
  readonly prefix: string;
  /** The budget is per key: workers sharing a key share it. Only a digest of it is stored. */
  readonly apiKey: string;
  /** Submits per second known to be allowed; undefined: learned from 429s. */
  readonly initialPerSecond?: number;
}

/** A draw: granted (after waiting `waitMs`, the slot reserved), or not now (ask again in `waitMs`). */
export interface Draw {
  readonly granted: boolean;
  readonly waitMs: number;
}

export interface BudgetState {
  readonly perSecond: number;
  readonly learned: boolean;
  /** How long a 429 still holds every submit (0: none). */
  readonly heldForMs: number;
}

/** Unknown limit: start here and grow fast. */
const PROBE_PER_SECOND = 20;
const MAX_PER_SECOND = 100_000;
/**
 * A draw waits for its slot holding its worker slot when the slot is within 2.5 pacing intervals (at
 * least 1 s, at most a minute): a slot is always reserved ahead, so the pace holds. A later one puts
 * the job back until then.
 */
const MIN_RESERVE_MS = 1_000;
const MAX_RESERVE_MS = 60_000;
const RESERVE_INTERVALS = 2.5;

// KEYS[1] the budget hash. ARGV: now, initial rate (0: unknown), reserve ms (min, max), max rate, submits accepted
// since, intervals reserved ahead.
const DRAW = `
local now = tonumber(ARGV[1])
if tonumber(ARGV[6]) > 0 then redis.call('HINCRBY', KEYS[1], 'accepted', ARGV[6]) end
local s = redis.call('HMGET', KEYS[1], 'rate', 'tokens', 'at', 'blocked', 'wstart', 'learned')
local rate = tonumber(s[1])
local learned = tonumber(s[6]) or 0
if not rate then
  local initial = tonumber(ARGV[2])
  if initial > 0 then rate = initial; learned = 1 else rate = ${PROBE_PER_SECOND} end
end
local tokens = tonumber(s[2]) or 1
local at = tonumber(s[3]) or now
local blocked = tonumber(s[4]) or 0
local wstart = tonumber(s[5]) or 0
if blocked > now then return {0, blocked - now} end
if blocked > at then at = blocked end
-- A tenth of a second's worth may go at once (at least one): high rates need no waits, low ones stay paced.
if now > at then tokens = math.min(math.max(1, rate / 10), tokens + (now - at) * rate / 1000); at = now end
local wait = 0
if tokens < 1 then
  wait = math.ceil((1 - tokens) * 1000 / rate)
  local horizon = math.min(tonumber(ARGV[4]), math.max(tonumber(ARGV[3]), tonumber(ARGV[7]) * 1000 / rate))
  if wait > horizon then
    redis.call('HSET', KEYS[1], 'rate', rate, 'tokens', tokens, 'at', at, 'learned', learned)
    return {0, wait}
  end
end
tokens = tokens - 1
if wstart == 0 then wstart = now end
if learned == 1 then rate = rate * 1.001 else rate = rate * 1.02 end
rate = math.min(rate, tonumber(ARGV[5]))
redis.call('HSET', KEYS[1], 'rate', rate, 'tokens', tokens, 'at', at, 'wstart', wstart, 'learned', learned)
redis.call('PEXPIRE', KEYS[1], 86400000)
return {1, wait}
`;

// KEYS[1] the budget hash. ARGV: now, reset time (ms), submits accepted since. Returns the rate after the cut, as a string.
const CUT = `
local now = tonumber(ARGV[1])
if tonumber(ARGV[3]) > 0 then redis.call('HINCRBY', KEYS[1], 'accepted', ARGV[3]) end
local reset = tonumber(ARGV[2])
local s = redis.call('HMGET', KEYS[1], 'rate', 'blocked', 'wstart', 'accepted', 'cut_for')
local rate = tonumber(s[1]) or ${PROBE_PER_SECOND}
if tonumber(s[5]) == reset then
  return tostring(rate)
end
local wstart = tonumber(s[3]) or 0
local accepted = tonumber(s[4]) or 0
local window = reset - (wstart > 0 and wstart or now)
if window < 1000 then window = 1000 end
local allowed = math.max(1, accepted)
rate = math.min(rate, 0.95 * allowed * 1000 / window)
redis.call('HSET', KEYS[1], 'rate', rate, 'tokens', 1, 'at', reset, 'blocked', reset, 'wstart', reset, 'accepted', 0, 'learned', 1, 'cut_for', reset)
redis.call('PEXPIRE', KEYS[1], 86400000)
return tostring(rate)
`;

export class RateBudget {
  readonly #redis: Redis;
  readonly #key: string;
  readonly #initial: number;
  /** Submits Segmind accepted that the budget in Redis has not been told of yet. */
  #unreported = 0;

  constructor(options: RateBudgetOptions) {
    this.#redis = options.redis;
    const digest = createHash('sha256').update(options.apiKey).digest('hex').slice(0, 16);
    this.#key = `${options.prefix}:segmind-budget:${digest}:submit`;
    this.#initial = options.initialPerSecond ?? 0;
  }

  /** Draws a submit from the budget. */
  async draw(now = Date.now()): Promise<Draw> {
    const accepted = this.#takeUnreported();
    const [granted, waitMs] = (await this.#redis.eval(
      DRAW,
      1,
      this.#key,
      now,
      this.#initial,
      MIN_RESERVE_MS,
      MAX_RESERVE_MS,
      MAX_PER_SECOND,
      accepted,
      RESERVE_INTERVALS,
    )) as [number, number];
    return { granted: granted === 1, waitMs };
  }

  /**
   * Segmind accepted a submit: it counts toward what the current window allows. Told at once without
   * waiting for the answer (a 429 from another worker must find it counted); should that fail, it is
   * told with the next draw.
   */
  accepted(): void {
    this.#redis.hincrby(this.#key, 'accepted', 1).catch(() => {
      this.#unreported++;
    });
  }

  #takeUnreported(): number {
    const count = this.#unreported;
    this.#unreported = 0;
    return count;
  }

  /** Milliseconds every submit is still held for by a 429 (0: none); asked after waiting for a reserved slot. */
  async heldForMs(now = Date.now()): Promise<number> {
    return Math.max(0, Number((await this.#redis.hget(this.#key, 'blocked')) ?? 0) - now);
  }

  /** Segmind answered 429 with its window resetting at `resetAt`: cut the rate and hold every submit until then. */
  async cut(resetAt: Date, now = Date.now()): Promise<number> {
    const accepted = this.#takeUnreported();
    return Number(await this.#redis.eval(CUT, 1, this.#key, now, Math.max(now, resetAt.getTime()), accepted));
  }

  /** The budget now, for metrics; undefined before the first draw. */
  async state(now = Date.now()): Promise<BudgetState | undefined> {
    const [rate, learned, blocked] = await this.#redis.hmget(this.#key, 'rate', 'learned', 'blocked');
    if (rate === null) return undefined;
    return { perSecond: Number(rate), learned: learned === '1', heldForMs: Math.max(0, Number(blocked ?? 0) - now) };
  }
}
