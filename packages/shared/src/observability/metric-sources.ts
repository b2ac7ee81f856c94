/**
 * Where the gauges of facts shared by every process (queue depths, the credit balance,
 * the pause, the submit budget) are read from when scraped — Redis, in practice — so
 * the API and every worker agree; and the queue depths, read once for every gauge of
 * one scrape that needs them.
 */
import type { PauseReason } from '@renderq/contract';

export interface QueueCounts {
  readonly queue: string;
  readonly counts: Readonly<Record<string, number>>;
  /** Jobs a worker could take now: waiting, prioritized and delayed whose time has come (queue-depths.ts). */
  readonly ready?: number;
}

/** Where the shared gauges are read from when scraped (Redis, in practice); each may be left out. */
export interface MetricSources {
  /** Every queue's depths by BullMQ state; also gives the requests in flight (the poll queue's jobs). */
  readonly queueCounts?: () => Promise<readonly QueueCounts[]>;
  /** The last credit balance any worker observed; undefined while none has been. */
  readonly credits?: () => Promise<number | undefined>;
  /** Whether taking jobs is paused, and why. */
  readonly pause?: () => Promise<{ readonly paused: boolean; readonly reason?: PauseReason }>;
  /** The shared Segmind submit budget: its rate, and how long a 429 still holds every submit; undefined before any submit. */
  readonly submitBudget?: () => Promise<{ readonly perSecond: number; readonly heldForMs: number } | undefined>;
  /** When the oldest request at Segmind whose result is not yet in hand was submitted (ms); undefined: none. */
  readonly oldestRequestAtSegmind?: () => Promise<number | undefined>;
  /** The Segmind outage the workers' breaker holds submits for, or null while none is. */
  readonly segmindOutage?: () => Promise<{ readonly since: string } | null>;
  /** Each tenant's unfinished jobs, as its backlog quota counts them. */
  readonly tenantBacklogs?: () => Promise<ReadonlyMap<string, number>>;
  /** Each tenant with a spend budget: its spend (reserved and settled) over the budget, by period. */
  readonly tenantBudgets?: () => Promise<
    readonly { readonly tenant: string; readonly period: 'day' | 'month'; readonly ratio: number }[]
  >;
  /** The tenants with jobs waiting for their fair share: how many wait, and each one's weight. */
  readonly fairShare?: () => Promise<
    readonly { readonly tenant: string; readonly waiting: number; readonly weight: number }[]
  >;
}

/** Queue depths read for one scrape serve every gauge that needs them. */
const QUEUE_COUNTS_REUSE_MS = 1_000;

/** The sources one process's gauges read from, which it may add to after they are created. */
export class MetricReadings {
  #sources: MetricSources;
  #depths: { at: number; counts: Promise<readonly QueueCounts[]> } | undefined;

  constructor(sources: MetricSources) {
    this.#sources = sources;
  }

  get sources(): MetricSources {
    return this.#sources;
  }

  /** Every queue's depths, read again only when the last reading is over a second old; none without a source. */
  queueCounts(): Promise<readonly QueueCounts[]> | undefined {
    const read = this.#sources.queueCounts;
    if (!read) return undefined;
    if (!this.#depths || Date.now() - this.#depths.at > QUEUE_COUNTS_REUSE_MS) {
      const counts = read();
      // A failed read is not reused: the next scrape asks again.
      counts.catch(() => {
        if (this.#depths?.counts === counts) this.#depths = undefined;
      });
      this.#depths = { at: Date.now(), counts };
    }
    return this.#depths.counts;
  }

  /** Reads from `more` too (added to, or replacing, the sources given so far). */
  readFrom(more: MetricSources): void {
    this.#sources = { ...this.#sources, ...more };
    this.#depths = undefined;
  }
}
