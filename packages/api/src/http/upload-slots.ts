/**
 * A bound on the batch uploads one API process reads at once. Each upload may hold
 * its whole body in memory (a JSON batch is buffered and parsed whole; an NDJSON
 * batch keeps every parsed job until the last line is checked), so the memory a
 * burst of uploads can take is this bound times the body cap, not the number of
 * callers. One more upload waits, first come first served, for a slot to free;
 * after `waitMs` it is refused, so a stuck upload never queues the rest forever.
 */

export interface UploadSlotsOptions {
  readonly concurrency: number;
  /** How long one more upload waits for a slot; 0: refused at once. */
  readonly waitMs: number;
}

/** Every slot stayed taken for the whole wait; try again later. */
export class UploadSlotsBusyError extends Error {
  override readonly name = 'UploadSlotsBusyError';
  constructor(readonly concurrency: number) {
    super(`${concurrency} batch uploads are already being read by this API process`);
  }
}

interface Waiter {
  readonly grant: (release: () => void) => void;
  readonly timer: NodeJS.Timeout | undefined;
}

export class UploadSlots {
  readonly #concurrency: number;
  readonly #waitMs: number;
  #inUse = 0;
  readonly #waiters: Waiter[] = [];

  constructor(options: UploadSlotsOptions) {
    this.#concurrency = options.concurrency;
    this.#waitMs = options.waitMs;
  }

  /**
   * A slot, as the function that gives it back (calling it again does nothing).
   * Rejects with UploadSlotsBusyError after the wait, or with `signal`'s reason when the caller goes away first.
   */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#inUse < this.#concurrency) {
      this.#inUse++;
      return Promise.resolve(this.#releaser());
    }
    if (this.#waitMs === 0) return Promise.reject(new UploadSlotsBusyError(this.#concurrency));
    return new Promise((resolve, reject) => {
      const leave = (error: unknown) => {
        const index = this.#waiters.indexOf(waiter);
        if (index !== -1) this.#waiters.splice(index, 1);
        clearTimeout(waiter.timer);
        signal?.removeEventListener('abort', onAbort);
        reject(error);
      };
      const onAbort = () => leave(signal?.reason);
      const waiter: Waiter = {
        grant: (release) => {
          clearTimeout(waiter.timer);
          signal?.removeEventListener('abort', onAbort);
          resolve(release);
        },
        timer: setTimeout(() => leave(new UploadSlotsBusyError(this.#concurrency)), this.#waitMs),
      };
      this.#waiters.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // The slot passes straight to the first waiter, so it never looks free to a newcomer in between.
      const next = this.#waiters.shift();
      if (next) next.grant(this.#releaser());
      else this.#inUse--;
    };
  }
}
