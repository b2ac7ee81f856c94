/**
 * Where polls go, from a model's learned latency distribution — pure, so the worker
 * and `pnpm bench`'s virtual-time simulation run the same code. Polls start at the
 * distribution's 10th percentile, when only a few requests have finished, and then
 * follow a grid whose step keeps the detection lag (Segmind finished → renderq sees
 * it) near `lagShare` of the median latency: a request finishes at a random point
 * within a step, so its lag is on average half a step. Past the median the step grows
 * with the time already waited, so the slow tail costs few polls; it never exceeds
 * the poll cap. The plan is stateless: the next poll depends only on the time since
 * submit, so a retried or recovered step lands on the same grid.
 */

export interface LatencyQuantiles {
  /** 10th percentile, median, 90th percentile of submit → COMPLETED, in ms. */
  readonly p10: number;
  readonly p50: number;
  readonly p90: number;
}

export interface PollPlanSettings {
  /** Detection lag aimed at, as a share of the median latency. @defaultValue 0.1 */
  readonly lagShare: number;
  /** Longest wait between two polls. */
  readonly maxIntervalMs: number;
}

/** No poll comes sooner than this after the previous one. */
const MIN_STEP_MS = 100;
/** A step of 2 × lag would put the median lag right at the bound; a little less keeps it under. */
const STEP_PER_LAG = 1.5;
/** Polls this far past the 90th percentile are slow outliers: the step grows faster there. */
const TAIL_GROWTH = 1.5;

/** Before anything is learned of a model: a 3 s median with a wide (lognormal σ 0.5) spread. */
export const UNKNOWN_MODEL: LatencyQuantiles = { p10: 1_600, p50: 3_000, p90: 5_700 };

/** Quantiles of observed latencies (any order); undefined when there are too few to tell. */
export function latencyQuantiles(samples: readonly number[]): LatencyQuantiles | undefined {
  if (samples.length < 5) return undefined;
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
  // A model that answers at once still gets a median of 1 ms: the steps are proportions of it.
  const p50 = Math.max(1, at(0.5));
  return { p10: Math.min(at(0.1), p50), p50, p90: Math.max(at(0.9), p50) };
}

/** The step between polls around `elapsedMs` after submit. */
function stepAt(q: LatencyQuantiles, elapsedMs: number, settings: PollPlanSettings): number {
  const base = STEP_PER_LAG * settings.lagShare * q.p50;
  const growth =
    elapsedMs <= q.p50
      ? 1
      : elapsedMs <= q.p90
        ? elapsedMs / q.p50
        : (q.p90 / q.p50) * (elapsedMs / q.p90) ** TAIL_GROWTH;
  return Math.min(settings.maxIntervalMs, Math.max(MIN_STEP_MS, base * growth));
}

/**
 * Milliseconds from now until the next poll of a request submitted `elapsedMs` ago:
 * the first grid point after now.
 */
export function nextPollInMs(q: LatencyQuantiles, elapsedMs: number, settings: PollPlanSettings): number {
  let at = Math.min(q.p10, settings.maxIntervalMs);
  while (at <= elapsedMs) at += stepAt(q, at, settings);
  return at - elapsedMs;
}
