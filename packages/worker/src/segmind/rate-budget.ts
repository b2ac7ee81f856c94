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
import { defineScripts, type RedisConnection, segmindBudgetKey } from '@renderq/shared';

export interface RateBudgetOptions {
  readonly redis: RedisConnection;
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

export class RateBudget {
  readonly #redis: RedisConnection;
  readonly #key: string;
  readonly #initial: number;
  /** Submits Segmind accepted that the budget in Redis has not been told of yet. */
  #unreported = 0;

  constructor(options: RateBudgetOptions) {
    this.#redis = options.redis;
    defineScripts(options.redis);
    const digest = createHash('sha256').update(options.apiKey).digest('hex').slice(0, 16);
    this.#key = segmindBudgetKey(options.prefix, digest);
    this.#initial = options.initialPerSecond ?? 0;
  }

  /** Draws a submit from the budget. */
  async draw(now = Date.now()): Promise<Draw> {
    const accepted = this.#takeUnreported();
    // draw-submit-slot-1.lua
    const [granted, waitMs] = await this.#redis.renderqDrawSubmitSlot(
      this.#key,
      String(now),
      String(this.#initial),
      String(MIN_RESERVE_MS),
      String(MAX_RESERVE_MS),
      String(MAX_PER_SECOND),
      String(accepted),
      String(RESERVE_INTERVALS),
      String(PROBE_PER_SECOND),
    );
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
    // cut-submit-rate-1.lua
    const rate = await this.#redis.renderqCutSubmitRate(
      this.#key,
      String(now),
      String(Math.max(now, resetAt.getTime())),
      String(accepted),
      String(PROBE_PER_SECOND),
    );
    return Number(rate);
  }

  /** The budget now, for metrics; undefined before the first draw. */
  async state(now = Date.now()): Promise<BudgetState | undefined> {
    const [rate, learned, blocked] = await this.#redis.hmget(this.#key, 'rate', 'learned', 'blocked');
    if (rate === null) return undefined;
    return { perSecond: Number(rate), learned: learned === '1', heldForMs: Math.max(0, Number(blocked ?? 0) - now) };
  }
}
