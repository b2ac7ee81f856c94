/**
 * Segmind's outage breaker, one for every worker (a hash in Redis, submit-breaker-1.lua): when
 * most of a worker's last submits were answered 5xx or not answered at connect — which start
 * no request, so trying again costs nothing — it opens, and every submit is held (the jobs wait,
 * spending no attempt) until one probe at a time finds Segmind answering again. The hold doubles
 * after each failed probe, up to 30 s (how late at most submits resume once Segmind is back). docs/operations.md, "A Segmind outage", tells operators.
 *
 * Deciding to open is local (this worker's own last submits): the closed breaker costs four
 * Redis reads a second, never one per submit.
 */
import { defineScripts, type RedisConnection, segmindBreakerKey } from '@renderq/shared';

export interface SubmitBreakerOptions {
  readonly redis: RedisConnection;
  readonly prefix: string;
  /** How long a probe may take before another worker probes instead: the submit timeout and a margin. */
  readonly probeTimeoutMs: number;
  /** @defaultValue 5 s */
  readonly firstHoldMs?: number;
  /** @defaultValue 30 s */
  readonly longestHoldMs?: number;
}

/** Whether a submit may go now: as the probe, or not before `waitMs`. */
export type Admission =
  | { readonly go: true; readonly probe: boolean; readonly at: number }
  | { readonly go: false; readonly waitMs: number };

/**
 * Opens when, of this worker's last 20 submits in 30 s, at least 70 % (and 5) failed: a whole outage
 * opens it within 14 submits, while 30 % of submits failing at random opens it about once in 4,000
 * failures (and then for one hold).
 */
const WINDOW_MS = 30_000;
const WINDOW_SUBMITS = 20;
const MIN_FAILURES = 5;
const FAILING_SHARE = 0.7;
/** How long a reading of a closed breaker is trusted before asking Redis again (never after a failure). */
const CLOSED_READING_MS = 250;

export class SubmitBreaker {
  readonly #redis: RedisConnection;
  readonly #key: string;
  readonly #probeTimeoutMs: number;
  readonly #firstHoldMs: number;
  readonly #longestHoldMs: number;
  /** This worker's recent submit outcomes (true: Segmind answered), oldest first. */
  #outcomes: { readonly at: number; readonly answered: boolean }[] = [];
  #closedUntil = 0;
  /** Set while this worker knows the breaker open: an answer then may close it. */
  #seenOpen = false;

  constructor(options: SubmitBreakerOptions) {
    defineScripts(options.redis);
    this.#redis = options.redis;
    this.#key = segmindBreakerKey(options.prefix);
    this.#probeTimeoutMs = options.probeTimeoutMs;
    this.#firstHoldMs = options.firstHoldMs ?? 5_000;
    this.#longestHoldMs = options.longestHoldMs ?? 30_000;
  }

  /** Asks before a submit. Closed (as read within the last second): go, without asking Redis. */
  async admit(now = Date.now()): Promise<Admission> {
    if (now < this.#closedUntil) return { go: true, probe: false, at: now };
    const [verdict, ms] = await this.#redis.renderqSubmitBreaker(
      this.#key,
      'enter',
      String(now),
      String(this.#probeTimeoutMs),
    );
    if (verdict === 0) {
      this.#closedUntil = now + CLOSED_READING_MS;
      this.#seenOpen = false;
      return { go: true, probe: false, at: now };
    }
    this.#seenOpen = true;
    return verdict === 2 ? { go: true, probe: true, at: now } : { go: false, waitMs: Math.max(1, ms) };
  }

  /**
   * Segmind answered the submit (accepted, or refused for a reason of its own): it is up. Closes
   * the breaker when it was open and the submit went after it opened. True when this closed it.
   */
  async answered(admission: Extract<Admission, { go: true }>): Promise<boolean> {
    this.#note(true);
    if (!admission.probe && !this.#seenOpen) return false;
    const [closed] = await this.#redis.renderqSubmitBreaker(this.#key, 'ok', String(Date.now()), String(admission.at));
    this.#seenOpen = false;
    this.#closedUntil = 0;
    return closed === 1;
  }

  /**
   * Segmind did not take the submit (5xx, or no connection). Returns until when every submit is
   * held if the breaker is open now (this failure opened it, or the probe failed), else undefined.
   */
  async failed(admission: Extract<Admission, { go: true }>, why: string): Promise<number | undefined> {
    const now = Date.now();
    this.#note(false, now);
    // Another worker may have opened it: the next submit asks.
    this.#closedUntil = 0;
    if (!admission.probe && !this.#seenOpen && !this.#mostlyFailing()) return undefined;
    const [, until] = await this.#redis.renderqSubmitBreaker(
      this.#key,
      'fail',
      String(now),
      String(this.#firstHoldMs),
      String(this.#longestHoldMs),
      why.slice(0, 500),
      admission.probe ? '1' : '0',
    );
    this.#seenOpen = true;
    this.#closedUntil = 0;
    // Counted afresh once closed: a recovered Segmind is not judged by the outage's failures.
    this.#outcomes = [];
    return until > now ? until : undefined;
  }

  #note(answered: boolean, at = Date.now()): void {
    this.#outcomes.push({ at, answered });
    const from = at - WINDOW_MS;
    let drop = 0;
    while (drop < this.#outcomes.length && (this.#outcomes[drop] as { at: number }).at < from) drop += 1;
    drop = Math.max(drop, this.#outcomes.length - WINDOW_SUBMITS);
    if (drop > 0) this.#outcomes.splice(0, drop);
  }

  #mostlyFailing(): boolean {
    const failures = this.#outcomes.filter((outcome) => !outcome.answered).length;
    return failures >= MIN_FAILURES && failures >= FAILING_SHARE * this.#outcomes.length;
  }
}
