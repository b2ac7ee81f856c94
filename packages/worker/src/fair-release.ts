/**
 * The fair-share release: keeps a few jobs waiting on the render queue — about half a second of
 * the submit budget — and fills it from the tenants' ready sets in fair-share order. Few are
 * released ahead because a released job has its place: the fewer ahead of the budget, the sooner
 * a newly busy tenant's job is served. Every worker runs one; two releasing at once only put a
 * few more jobs ahead. It runs whether or not this process's FAIR_SHARE is on, so jobs that an API
 * with fair share entered are never stranded.
 */
import type { JobStore, Logger } from '@renderq/shared';
import type { Queue } from 'bullmq';
import type { RateBudget } from './segmind/rate-budget.js';

export interface FairReleaseOptions {
  readonly store: JobStore;
  readonly renderQueue: Queue;
  readonly budget: RateBudget;
  readonly weightOf: (tenant: string) => number;
  readonly logger: Logger;
  /** How often it looks. @defaultValue 100 */
  readonly intervalMs?: number;
}

/** Seconds of the submit budget kept waiting on the render queue. */
const LEAD_SECONDS = 0.5;
const MIN_AHEAD = 2;
const MAX_AHEAD = 200;
/** The rate assumed before the budget has one. */
const UNKNOWN_RATE_PER_SECOND = 10;
const RATE_REFRESH_MS = 2_000;

export interface FairRelease {
  /** Stops looking, and waits for a release under way. */
  stop(): Promise<void>;
}

export function startFairRelease(options: FairReleaseOptions): FairRelease {
  const intervalMs = options.intervalMs ?? 100;
  let stopped = false;
  let ahead = aheadFor(UNKNOWN_RATE_PER_SECOND);
  let rateReadAt = 0;
  let warnedAt = 0;

  const releaseDue = async (): Promise<void> => {
    const now = Date.now();
    if (now - rateReadAt > RATE_REFRESH_MS) {
      rateReadAt = now;
      const state = await options.budget.state(now);
      ahead = aheadFor(state?.perSecond ?? UNKNOWN_RATE_PER_SECOND);
    }
    const counts = await options.renderQueue.getJobCounts('waiting', 'prioritized');
    const waiting = Object.values(counts).reduce((sum, n) => sum + n, 0);
    if (waiting < ahead) await options.store.releaseFairShare(ahead - waiting, options.weightOf);
  };

  const running = (async () => {
    while (!stopped) {
      try {
        await releaseDue();
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

function aheadFor(perSecond: number): number {
  return Math.min(MAX_AHEAD, Math.max(MIN_AHEAD, Math.ceil(perSecond * LEAD_SECONDS)));
}
