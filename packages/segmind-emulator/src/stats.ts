/** What the emulator has served, for tests that must prove "exactly one submit per job". */
import { roundCredits } from './credits.js';
import type { EmulatedRequest } from './emulated-request.js';

/** A marker a test puts in a prompt, such as `marker:job-42`, to count submits per job. */
const MARKER = /\bmarker:([\w.-]+)/;

export interface EmulatorStats {
  submits: {
    /** Every POST /v2/{model}, whatever its answer. */
    attempts: number;
    /** Submits that created a (billable) request, answered or not. */
    accepted: number;
    /** Accepted submits per prompt marker. */
    byMarker: Record<string, number>;
  };
  polls: number;
  results: number;
  outputs: number;
  syncRequests: number;
  /** Answers with a 4xx or 5xx status (and dropped connections as "dropped"), by code. */
  errors: Record<string, number>;
  requests: { queued: number; processing: number; completed: number; failed: number };
  credits: { balance: number; spent: number };
}

export class StatsCounter {
  submitAttempts = 0;
  submitsAccepted = 0;
  readonly byMarker = new Map<string, number>();
  polls = 0;
  results = 0;
  outputs = 0;
  syncRequests = 0;
  readonly errors = new Map<string, number>();

  countAccepted(prompt: unknown): void {
    this.submitsAccepted++;
    const marker = typeof prompt === 'string' ? MARKER.exec(prompt)?.[1] : undefined;
    if (marker) this.byMarker.set(marker, (this.byMarker.get(marker) ?? 0) + 1);
  }

  countError(code: number | 'dropped'): void {
    const key = String(code);
    this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
  }

  /** The counts with the requests the service holds and its credits, as the admin API reports them. */
  snapshot(requests: Iterable<EmulatedRequest>, credits: { balance: number; spent: number }): EmulatorStats {
    const byStatus = { queued: 0, processing: 0, completed: 0, failed: 0 };
    for (const request of requests) {
      byStatus[request.status.toLowerCase() as keyof typeof byStatus]++;
    }
    return {
      submits: {
        attempts: this.submitAttempts,
        accepted: this.submitsAccepted,
        byMarker: Object.fromEntries(this.byMarker),
      },
      polls: this.polls,
      results: this.results,
      outputs: this.outputs,
      syncRequests: this.syncRequests,
      errors: Object.fromEntries(this.errors),
      requests: byStatus,
      credits: { balance: roundCredits(credits.balance), spent: roundCredits(credits.spent) },
    };
  }

  reset(): void {
    this.submitAttempts = 0;
    this.submitsAccepted = 0;
    this.byMarker.clear();
    this.polls = 0;
    this.results = 0;
    this.outputs = 0;
    this.syncRequests = 0;
    this.errors.clear();
  }
}
