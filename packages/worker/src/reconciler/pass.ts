/** What both reconciler passes (jobs, webhook events) are given and report. */

export interface PassOptions {
  /** A job or event that has not moved (nor been checked) for this long is checked. */
  readonly staleMs: number;
  /** Entries read and checked per round trip. */
  readonly pageSize: number;
  /** Pages per round; a longer backlog is checked over the next rounds, oldest first. */
  readonly maxPages: number;
}

export interface PassReport {
  /** Entries looked at (each a glance in a pipelined page; only the few found lost cost more). */
  checked: number;
  pages: number;
  /** Queued again under the same id because their BullMQ job was gone or finished. */
  requeued: number;
  /** Delayed BullMQ jobs long past their time, made to run now. */
  promoted: number;
  /** Queued jobs past their start-by deadline, ended `expired`. */
  expired: number;
}

export function emptyReport(): PassReport {
  return { checked: 0, pages: 0, requeued: 0, promoted: 0, expired: 0 };
}
