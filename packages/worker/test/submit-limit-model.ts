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
 * window's real end (a fixed pseudo-random sequence), as the stand-in does.
 */
class ClockWindows {
  #start = -1;
  #count = 0;
  #lateness = 0;

  take(now: number, phase: LimitPhase): { ok: true } | { ok: false; resetAt: number } {
    if (phase.max === null) return { ok: true };
    const start = Math.floor(now / phase.windowMs) * phase.windowMs;
    if (start !== this.#start) {
      this.#start = start;
      this.#count = 0;
    }
    const other = Math.floor((phase.otherShare ?? 0) * phase.max * ((now - start) / phase.windowMs));
    if (this.#count + other >= phase.max) {
      this.#lateness = (this.#lateness * 7 + 3) % 11;
      return { ok: false, resetAt: start + phase.windowMs + 1_000 + this.#lateness * 100 };
    }
    this.#count++;
    return { ok: true };
  }
}

/** Submit round trip in virtual ms. */
const ROUND_TRIP_MS = 20;

/**
 * Runs the phases in order with `workers` workers sharing the budgets (worker i uses budgets[i % n]),
 * each with endless work except in idle phases, as the submit step uses the budget.
 */
export async function simulate(
  budgets: readonly RateBudget[],
  phases: readonly LimitPhase[],
  startMs: number,
  workers = 2,
): Promise<PhaseResult[]> {
  const windows = new ClockWindows();
  const results: PhaseResult[] = [];
  const next = Array.from({ length: workers }, () => startMs);
  let phaseStart = startMs;
  for (const phase of phases) {
    const end = phaseStart + phase.ms;
    const lateFrom = phaseStart + Math.max(10_000, 2 * phase.windowMs);
    const acceptedAt: number[] = [];
    let refused = 0;
    if (phase.idle) {
      for (let i = 0; i < workers; i++) next[i] = end;
    }
    for (;;) {
      let w = 0;
      for (let i = 1; i < workers; i++) if ((next[i] as number) < (next[w] as number)) w = i;
      const now = next[w] as number;
      if (now >= end) break;
      const budget = budgets[w % budgets.length] as RateBudget;
      const draw = await budget.draw(now);
      if (!draw.granted) {
        next[w] = now + Math.max(1, draw.waitMs);
        continue;
      }
      const at = now + draw.waitMs;
      if (draw.waitMs > 0) {
        const after = await budget.afterWait(now, at);
        if (after.heldForMs > 0 || after.voided) {
          next[w] = at + after.heldForMs;
          continue;
        }
      }
      const answer = windows.take(at, phase);
      if (answer.ok) {
        budget.accepted();
        acceptedAt.push(at);
        next[w] = at + ROUND_TRIP_MS;
      } else {
        refused++;
        const cut = await budget.cut(new Date(answer.resetAt), at + ROUND_TRIP_MS);
        next[w] = Math.max(at + ROUND_TRIP_MS, cut.holdUntil.getTime());
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
