/**
 * Segmind's submit rate limit as one budget in Redis per API key, shared by every worker (and
 * kept across restarts): submits draw tokens from it at a paced rate instead of all firing at a
 * window's edge. Its estimate depends only on the recent past (docs/worker.md, "Segmind's rate
 * limit", says why each rule is there):
 *
 * - A 429 cuts the rate to the pace of a window ago (older by how far slots are reserved ahead),
 *   at most 97 % of the pace refused and of what the trailing window took, and — within two windows
 *   of a start, an idle spell or the last hold — at most 97 % of what those windows accepted. The
 *   ceiling is what it stays 3 % under. While a raised limit is sought, the refused window's count.
 * - Every submit is held until the refusing window has surely ended: the reset Segmind names,
 *   or sooner when the window (learned from how far ahead resets are named and how far apart
 *   consecutive ones are, or from SEGMIND_RATE_LIMIT) must have ended already — a window of the
 *   ceiling's count of recent accepted submits ago. A 429 when next to nothing was accepted since
 *   says only that the window is full: it holds, and teaches nothing.
 * - A job whose slot is beyond the reserve horizon comes back when it is half a horizon away, while
 *   slots reserved meanwhile still go out: a job put back is taken again late, and the pace must
 *   not wait for it.
 * - While the pace holds submits back, the rate grows with that busy time (not per submit):
 *   four windows on a plateau under the ceiling, then a probe above it that doubles in two windows
 *   and keeps accelerating (×1.1 in one, ×256 in four), so a raised or lifted limit is found in
 *   seconds while a steady one costs a 429 about every six windows. A 429 that finds the ceiling
 *   well above the last one, or after a trailing window that took 1.6 times it (a raise), probes on
 *   at once.
 * - SEGMIND_RATE_LIMIT, when set, is the first ceiling, the window length and the highest rate.
 * - Idle time is no evidence: it neither lowers nor grows the rate; a state idle for five
 *   minutes probes above its ceiling at once and forgets a learned window length.
 *
 * One small script per draw, and one more (not waited for) per submit Segmind accepted: its count and
 * time (the last 128 or more are kept).
 */
import { createHash } from 'node:crypto';
import { defineScripts, type RedisConnection, segmindBudgetKey } from '@renderq/shared';

/** A submit limit as Segmind states it: `count` submits per `windowMs`. */
export interface SubmitLimit {
  readonly count: number;
  readonly windowMs: number;
}

export interface RateBudgetOptions {
  readonly redis: RedisConnection;
  readonly prefix: string;
  /** The budget is per key: workers sharing a key share it. Only a digest of it is stored. */
  readonly apiKey: string;
  /** The limit when the operator knows it (SEGMIND_RATE_LIMIT); undefined: learned from 429s. */
  readonly knownLimit?: SubmitLimit;
}

/**
 * A draw: granted (after waiting `waitMs`, the slot reserved), or not now (ask again in `waitMs`: then its
 * slot is half a reserve horizon away, and slots reserved meanwhile are still going out).
 */
export interface Draw {
  readonly granted: boolean;
  readonly waitMs: number;
}

/** What a 429 did to the budget. */
export interface Cut {
  readonly perSecond: number;
  /** Every submit waits until then. */
  readonly holdUntil: Date;
}

export interface BudgetState {
  readonly perSecond: number;
  /** The learned ceiling per second (0: nothing learned yet). */
  readonly ceilingPerSecond: number;
  readonly learned: boolean;
  /** The window length the budget works with (ms). */
  readonly windowMs: number;
  /** How long a 429 still holds every submit (0: none). */
  readonly heldForMs: number;
}

/** Unknown limit: start here and double every window of busy time. */
const PROBE_PER_SECOND = 20;
const MAX_PER_SECOND = 100_000;
/** The rate after a 429, as a share of the ceiling: paced submits then fill no window past it. */
const HEADROOM = 0.97;
/** Windows of busy time at 97 % of the ceiling before probing above it. */
const PLATEAU_WINDOWS = 4;
/** The probe doubles the rate in this many windows of busy time, and keeps accelerating. */
const PROBE_DOUBLING_WINDOWS = 2;
/** A budget idle this long may be stale: it probes at once and forgets its window length. */
const RELAX_AFTER_MS = 5 * 60_000;
/** Accepted submits whose times a 429 may read: a window's count up to this is placed exactly. */
const RECENT_TIMES = 128;
/** How much later than its window's end a named reset may be (a 1 s window's reset up to 3 s ahead). */
const RESET_LATENESS_MS = 2_000;
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
  readonly #known: SubmitLimit | undefined;
  /** The rate's tuning as both scripts take it (prelude/submit-rate.lua). */
  readonly #tuning: string[];
  /** Submits Segmind accepted that the budget in Redis has not been told of yet. */
  #unreported = 0;

  constructor(options: RateBudgetOptions) {
    this.#redis = options.redis;
    defineScripts(options.redis);
    const digest = createHash('sha256').update(options.apiKey).digest('hex').slice(0, 16);
    this.#key = segmindBudgetKey(options.prefix, digest);
    this.#known = options.knownLimit;
    // A known limit is also the highest rate: probing above it would only meet 429s.
    const known = options.knownLimit ? (options.knownLimit.count * 1000) / options.knownLimit.windowMs : Infinity;
    const max = Math.min(MAX_PER_SECOND, known);
    this.#tuning = [PROBE_PER_SECOND, HEADROOM, PLATEAU_WINDOWS, PROBE_DOUBLING_WINDOWS, max].map(String);
  }

  /** Draws a submit from the budget. */
  async draw(now = Date.now()): Promise<Draw> {
    const accepted = this.#takeUnreported();
    // draw-submit-slot-1.lua
    const [granted, waitMs] = await this.#redis.renderqDrawSubmitSlot(
      this.#key,
      String(now),
      String(this.#known?.count ?? 0),
      String(this.#known?.windowMs ?? 0),
      String(MIN_RESERVE_MS),
      String(MAX_RESERVE_MS),
      String(accepted),
      String(RESERVE_INTERVALS),
      String(RELAX_AFTER_MS),
      ...this.#tuning,
    );
    return { granted: granted === 1, waitMs };
  }

  /**
   * Segmind accepted a submit: it counts toward what the current window allows, and its time tells a
   * later 429 when the refusing window began. Told at once without waiting for the answer (a 429 from
   * another worker must find it counted); should that fail, it is counted with the next draw.
   */
  accepted(now = Date.now()): void {
    this.#redis.renderqCountAcceptedSubmit(this.#key, String(now), String(RECENT_TIMES)).catch(() => {
      this.#unreported++;
    });
  }

  #takeUnreported(): number {
    const count = this.#unreported;
    this.#unreported = 0;
    return count;
  }

  /**
   * Asked after waiting for a slot reserved at `drawnAt`: whether a 429 since voided it (it was paced at
   * a rate found too high, or falls in the hold: draw again).
   */
  async voidedSince(drawnAt: number, now = Date.now()): Promise<boolean> {
    const [blocked, cutAt] = await this.#redis.hmget(this.#key, 'blocked', 'cut_at');
    return Number(cutAt ?? 0) >= drawnAt || Number(blocked ?? 0) > now;
  }

  /** Segmind answered 429 naming `resetAt` as its window's reset: learn from it, cut the rate, hold. */
  async cut(resetAt: Date, now = Date.now()): Promise<Cut> {
    const accepted = this.#takeUnreported();
    // cut-submit-rate-1.lua
    const [rate, holdUntil] = await this.#redis.renderqCutSubmitRate(
      this.#key,
      String(now),
      String(resetAt.getTime()),
      String(accepted),
      String(this.#known?.windowMs ?? 0),
      String(RESET_LATENESS_MS),
      ...this.#tuning,
      String(MAX_RESERVE_MS),
    );
    return { perSecond: Number(rate), holdUntil: new Date(Number(holdUntil)) };
  }

  /** The budget now, for metrics; undefined before the first draw. */
  async state(now = Date.now()): Promise<BudgetState | undefined> {
    const [rate, ceil, win, blocked] = await this.#redis.hmget(this.#key, 'rate', 'ceil', 'win', 'blocked');
    if (rate === null) return undefined;
    const ceilingPerSecond = Number(ceil ?? 0);
    return {
      perSecond: Number(rate),
      ceilingPerSecond,
      learned: ceilingPerSecond > 0,
      windowMs: Number(win ?? 1_000),
      heldForMs: Math.max(0, Number(blocked ?? 0) - now),
    };
  }
}
