// A Segmind submit limit in virtual time, and workers drawing from a RateBudget against it: the
// budget's rules measured without a clock (the results are deterministic, so tests may assert them).
import type { RateBudget } from '../src/segmind/rate-budget.js';

export interface LimitPhase {
  /** Virtual ms the phase lasts. */
  readonly ms: number;
  /** Submits per window; null: no limit. */
  readonly max: number | null;
  readonly windowMs: number;
  /** Share of each window's count used by another client on the same key, spread over the window. */
  readonly otherShare?: number;
  /** No work during the phase (an idle spell). */
  readonly idle?: boolean;
}

export interface PhaseResult {
  readonly accepted: number;
  /** Accepted after the phase's first 10 s (or two windows, for longer windows). */
  readonly acceptedLate: number;
  readonly lateMs: number;
  readonly refused: number;
  /** Virtual ms from the phase's start until a trailing window's count first reached 90 % of the limit. */
  readonly msTo90: number | undefined;
}

/**
 * Windows cut on clock boundaries (multiples of the window); a 429 names a reset 1–2 s after the
 * window's real end (a fixed pseudo-random sequence), as the stand-in does. Counted per window, so
 * requests that arrive a little out of order land in the window they arrive in.
 */
class ClockWindows {
  readonly #counts = new Map<number, number>();
  #lateness = 0;

  take(now: number, phase: LimitPhase): { ok: true } | { ok: false; resetAt: number } {
    if (phase.max === null) return { ok: true };
    const start = Math.floor(now / phase.windowMs) * phase.windowMs;
    const count = this.#counts.get(start) ?? 0;
    const other = Math.floor((phase.otherShare ?? 0) * phase.max * ((now - start) / phase.windowMs));
    if (count + other >= phase.max) {
      this.#lateness = (this.#lateness * 7 + 3) % 11;
      return { ok: false, resetAt: start + phase.windowMs + 1_000 + this.#lateness * 100 };
    }
    this.#counts.set(start, count + 1);
    return { ok: true };
  }
}

/** How the machine between the budget and Segmind behaves. */
export interface Machine {
  /** Submit round trip (virtual ms). */
  readonly roundTripMs: number;
  /** A submit reaches Segmind up to this much after its slot (timers, Redis, the network). */
  readonly jitterMs: number;
  /** A job put back is taken again this long after the queue's rate limit ends. */
  readonly refetchMs: number;
  /** Seeds the jitter's pseudo-random sequence. */
  readonly seed: number;
}

const QUIET: Machine = { roundTripMs: 20, jitterMs: 0, refetchMs: 0, seed: 1 };

/** A worker slot's next step: draw from the budget, send at its slot, reach Segmind, or take its 429. */
type Step =
  | { readonly name: 'draw'; readonly at: number }
  | { readonly name: 'send'; readonly at: number; readonly drawnAt: number }
  | { readonly name: 'arrive'; readonly at: number }
  | { readonly name: 'refused'; readonly at: number; readonly resetAt: number };

/**
 * Runs the phases in order with `slots` worker slots sharing the budgets (slot i uses budgets[i % n]),
 * with endless work except in idle phases, as the submit step uses the budget: a slot not granted puts
 * its job back and freezes the queue until then (BullMQ's queue rate limit), a granted one waits for its
 * slot, asks whether a 429 voided it, and sends. Steps run in virtual-time order.
 */
export async function simulate(
  budgets: readonly RateBudget[],
  phases: readonly LimitPhase[],
  startMs: number,
  slots = 2,
  machine: Partial<Machine> = {},
): Promise<PhaseResult[]> {
  const m = { ...QUIET, ...machine };
  const windows = new ClockWindows();
  let seed = m.seed;
  const jitter = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return Math.floor((seed / 2147483648) * m.jitterMs);
  };
  const results: PhaseResult[] = [];
  const steps: Step[] = Array.from({ length: slots }, () => ({ name: 'draw', at: startMs }));
  let frozenUntil = 0;
  const putBack = (i: number, until: number) => {
    frozenUntil = until;
    steps[i] = { name: 'draw', at: until + m.refetchMs };
  };
  let phaseStart = startMs;
  for (const phase of phases) {
    const end = phaseStart + phase.ms;
    const lateFrom = phaseStart + Math.max(10_000, 2 * phase.windowMs);
    const acceptedAt: number[] = [];
    let refused = 0;
    for (;;) {
      let i = 0;
      for (let j = 1; j < slots; j++) if ((steps[j] as Step).at < (steps[i] as Step).at) i = j;
      const step = steps[i] as Step;
      const now = step.at;
      if (now >= end) break;
      const budget = budgets[i % budgets.length] as RateBudget;
      switch (step.name) {
        case 'draw': {
          if (phase.idle) {
            steps[i] = { name: 'draw', at: end };
          } else if (now < frozenUntil) {
            steps[i] = { name: 'draw', at: frozenUntil + m.refetchMs };
          } else {
            const draw = await budget.draw(now);
            if (draw.granted) steps[i] = { name: 'send', at: now + draw.waitMs, drawnAt: now };
            else putBack(i, now + Math.max(1, draw.waitMs));
          }
          break;
        }
        case 'send': {
          if (now > step.drawnAt && (await budget.voidedSince(step.drawnAt, now))) {
            steps[i] = { name: 'draw', at: now };
            break;
          }
          steps[i] = { name: 'arrive', at: now + jitter() };
          break;
        }
        case 'arrive': {
          const answer = windows.take(now, phase);
          if (answer.ok) {
            budget.accepted(now + m.roundTripMs);
            if (now < end) acceptedAt.push(now);
            steps[i] = { name: 'draw', at: now + m.roundTripMs };
          } else {
            refused++;
            steps[i] = { name: 'refused', at: now + m.roundTripMs, resetAt: answer.resetAt };
          }
          break;
        }
        case 'refused': {
          const cut = await budget.cut(new Date(step.resetAt), now);
          putBack(i, Math.max(now, cut.holdUntil.getTime()));
          break;
        }
      }
    }
    const limitPerWindow = phase.max === null ? undefined : phase.max * (1 - (phase.otherShare ?? 0));
    results.push({
      accepted: acceptedAt.length,
      acceptedLate: acceptedAt.filter((t) => t >= lateFrom).length,
      lateMs: end - lateFrom,
      refused,
      msTo90: limitPerWindow === undefined ? undefined : timeTo90(acceptedAt, phaseStart, phase, limitPerWindow),
    });
    phaseStart = end;
  }
  return results;
}

/** When the count over a trailing window (two for 1 s windows) first reached 90 % of the limit. */
function timeTo90(
  acceptedAt: readonly number[],
  start: number,
  phase: LimitPhase,
  limitPerWindow: number,
): number | undefined {
  const span = phase.windowMs <= 1_000 ? 2 * phase.windowMs : phase.windowMs;
  const needed = 0.9 * limitPerWindow * (span / phase.windowMs);
  let from = 0;
  for (let to = 0; to < acceptedAt.length; to++) {
    const t = acceptedAt[to] as number;
    while ((acceptedAt[from] as number) < t - span) from++;
    if (t - start >= span && to - from + 1 >= needed) return t - start;
  }
  return undefined;
}
