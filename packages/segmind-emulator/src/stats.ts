/** What the emulator has served, for tests that must prove "exactly one submit per job". */

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
