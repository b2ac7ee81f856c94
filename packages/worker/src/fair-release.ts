/**
 * The fair-share release: keeps a few jobs on the render queue not yet submitted — the submits
 * under way and about 0.2 s of the submit budget beyond them, at least one of each; no more than
 * Segmind's in-flight cap has room for — and tops it up from the tenants' ready sets in fair-share
 * order. Few are released ahead because a released job has its place: the fewer ahead of the
 * budget, the sooner a newly busy tenant's job is served. Jobs a worker holds (waiting for their
 * reserved submit slot, or mid-submit) count as well as waiting ones: a worker takes every waiting
 * job it has room for at once, so waiting alone would say "empty" while many are held. Every worker
 * runs one; the release script counts and releases in one step, so two at once never put more
 * ahead. It runs whether or not this process's FAIR_SHARE is on, so jobs that an API with fair
 * share entered are never stranded.
 */
import type { JobStore, Logger } from '@renderq/shared';
import type { RateBudget } from './segmind/rate-budget.js';

export interface FairReleaseOptions {
  readonly store: JobStore;
  readonly budget: RateBudget;
  readonly weightOf: (tenant: string) => number;
  /** SEGMIND_RATE_LIMIT as submits a second, when the operator states it. */
  readonly knownPerSecond?: number;
  /** How long a submit holds a worker slot besides waiting for its turn (this worker's submits). */
  readonly submitWork: SubmitWork;
  /** Requests SEGMIND_MAX_INFLIGHT still has room for: releasing more than that only fills the queue. */
  readonly inflightRoom: () => number;
  readonly logger: Logger;
  /** How often it looks. @defaultValue 100 */
  readonly intervalMs?: number;
}

/**
 * Seconds of the submit budget kept on the render queue beyond the submits under way. Every job
 * kept is one a newly busy tenant waits behind; the loop tops up within a tenth of a second, well
 * inside this lead.
 */
const LEAD_SECONDS = 0.2;
const MAX_AHEAD = 200;
const RATE_REFRESH_MS = 2_000;
/** Released jobs whose add has not been confirmed this long are added again (their releaser failed). */
const RELEASED_STALE_MS = 3_000;
const RELEASED_CHECK_MS = 2_000;

/**
 * The time a submit holds its worker slot besides waiting for its reserved turn — reading input
 * images and the submit call itself — averaged over this worker's recent submits. The jobs under
 * way for that long are part of what the render queue must hold to keep the budget busy.
 */
export class SubmitWork {
  #seconds = 0;

  observe(seconds: number): void {
    // Most weight on the last 20 or so submits: Segmind's latency drifts.
    this.#seconds = this.#seconds === 0 ? seconds : 0.95 * this.#seconds + 0.05 * seconds;
  }

  get seconds(): number {
    return this.#seconds;
  }
}

export interface FairRelease {
  /** Stops looking, and waits for a release under way. */
  stop(): Promise<void>;
}

export function startFairRelease(options: FairReleaseOptions): FairRelease {
  const intervalMs = options.intervalMs ?? 100;
  let stopped = false;
  // Until a limit is known or learned, the rate is not what jobs wait for: the most are kept ahead.
  let perSecond = options.knownPerSecond;
  let rateReadAt = 0;
  let releasedCheckedAt = 0;
  let warnedAt = 0;

  /** Tops the render queue up; true when it released any (the workers may be taking them fast). */
  const releaseDue = async (): Promise<boolean> => {
    const now = Date.now();
    if (now - rateReadAt > RATE_REFRESH_MS) {
      rateReadAt = now;
      const state = await options.budget.state(now);
      if (options.knownPerSecond || state?.learned) perSecond = state?.perSecond ?? options.knownPerSecond;
    }
    if (now - releasedCheckedAt > RELEASED_CHECK_MS) {
      releasedCheckedAt = now;
      await options.store.recoverReleased(RELEASED_STALE_MS);
    }
    // The submits under way, and a lead beyond them: at 5/s with quick submits, 1 + 1.
    const byRate =
      perSecond === undefined
        ? MAX_AHEAD
        : Math.max(1, Math.round(perSecond * options.submitWork.seconds)) +
          Math.max(1, Math.round(perSecond * LEAD_SECONDS));
    // With Segmind's in-flight cap reached, one job waits ready for the next free place.
    const byInflight = Math.max(0, options.inflightRoom()) + 1;
    // The script counts what the render queue holds and releases only the difference.
    const ahead = Math.min(MAX_AHEAD, byRate, byInflight);
    return (await options.store.releaseFairShare(ahead, options.weightOf)).length > 0;
  };

  const running = (async () => {
    while (!stopped) {
      try {
        // Released some: look again at once, as the workers may be taking jobs faster than one look per interval.
        if (await releaseDue()) continue;
      } catch (error) {
        // Redis away: the loop looks again; one warning a minute is enough.
        if (Date.now() - warnedAt > 60_000) {
          warnedAt = Date.now();
          options.logger.warn({ err: error }, 'releasing jobs by fair share failed; retrying');
        }
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();

  return {
    stop: async () => {
      stopped = true;
      await running;
    },
  };
}
