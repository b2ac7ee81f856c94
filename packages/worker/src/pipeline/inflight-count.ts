/**
 * SEGMIND_MAX_INFLIGHT without counting the poll queue on every submit: the count of
 * requests at Segmind (every worker's) is read at most once per refresh interval, and
 * this process's own submits since that read are added to it as they are reserved.
 * Other workers' submits are seen at the next read, so the cap stays a soft one.
 */

/** How stale the shared count may be: a few hundred submits a second share one read. */
const REFRESH_MS = 250;

export class InflightCount {
  readonly #read: () => Promise<number>;
  readonly #refreshMs: number;
  #known = 0;
  #readAt = Number.NEGATIVE_INFINITY;
  #reading: Promise<void> | undefined;

  /** `read` counts the requests at Segmind now, across all workers. */
  constructor(read: () => Promise<number>, refreshMs = REFRESH_MS) {
    this.#read = read;
    this.#refreshMs = refreshMs;
  }

  /**
   * Reserves room for one submit under `max`: false when the count is at the cap. A reserved
   * submit counts until the next read, which sees it in the poll queue (or not, if it failed).
   */
  async reserve(max: number, now = Date.now()): Promise<boolean> {
    if (now - this.#readAt >= this.#refreshMs) await this.#refresh(now);
    // No await between the check and the count: concurrent steps of this process never overshoot together.
    if (this.#known >= max) return false;
    this.#known++;
    return true;
  }

  /**
   * How many more submits `max` had room for at the last read, with this process's reservations
   * since. It never reads itself: a read drops the reservations whose submits are still on their way
   * to the poll queue, so only `reserve` may read, or concurrent submits could pass the cap.
   */
  room(max: number): number {
    return max - this.#known;
  }

  #refresh(now: number): Promise<void> {
    this.#reading ??= this.#read()
      .then((count) => {
        this.#known = count;
        this.#readAt = now;
      })
      .finally(() => {
        this.#reading = undefined;
      });
    return this.#reading;
  }
}
