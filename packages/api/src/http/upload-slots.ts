/**
 * A bound on the uploads one API process reads at once (batches, and single jobs with
 * large bodies: upload-gate.ts). Each upload may hold its whole body in memory (a JSON
 * body is buffered and parsed whole; an NDJSON batch keeps every parsed job until the
 * last line is checked), so the memory a
 * burst of uploads can take is this bound times the body cap, not the number of
 * callers. One tenant holds at most `perTenant` of the slots, so that one tenant
 * cannot keep every other tenant's uploads out. One more upload waits, first come
 * first served, for a slot (its tenant's share first, then one of the process's);
 * after `waitMs` it is refused, so a stuck upload never queues the rest forever.
 */

export interface UploadSlotsOptions {
  readonly concurrency: number;
  /** Slots one tenant may hold at once. @defaultValue concurrency */
  readonly perTenant?: number;
  /** How long one more upload waits for a slot; 0: refused at once. */
  readonly waitMs: number;
}

/** Every slot stayed taken for the whole wait; try again later. */
export class UploadSlotsBusyError extends Error {
  override readonly name = 'UploadSlotsBusyError';
  constructor(readonly concurrency: number) {
    super(`${concurrency} uploads are already being read by this API process`);
  }
}

/** The tenant's own share stayed taken for the whole wait: it waits for its own uploads, not for others'. */
export class TenantUploadsBusyError extends Error {
  override readonly name = 'TenantUploadsBusyError';
  constructor(readonly perTenant: number) {
    super(`this tenant already has ${perTenant} uploads being read by this API process`);
  }
}

export class UploadSlots {
  readonly #process: Semaphore;
  readonly #perTenant: number;
  readonly #waitMs: number;
  /** Each tenant's share, while it holds or waits for a slot. */
  readonly #tenants = new Map<string, Semaphore>();

  constructor(options: UploadSlotsOptions) {
    this.#process = new Semaphore(options.concurrency);
    this.#perTenant = options.perTenant ?? options.concurrency;
    this.#waitMs = options.waitMs;
  }

  /**
   * A slot, as the function that gives it back (calling it again does nothing). Rejects with
   * TenantUploadsBusyError or UploadSlotsBusyError after the wait, or with `signal`'s reason when the
   * caller goes away first.
   */
  async acquire(tenant: string, signal?: AbortSignal): Promise<() => void> {
    const share = this.#tenants.get(tenant) ?? new Semaphore(this.#perTenant);
    this.#tenants.set(tenant, share);
    const forget = () => {
      if (share.idle) this.#tenants.delete(tenant);
    };
    const deadline = Date.now() + this.#waitMs;
    let releaseShare: () => void;
    try {
      releaseShare = await share.acquire(this.#waitMs, signal, () => new TenantUploadsBusyError(this.#perTenant));
    } catch (error) {
      forget();
      throw error;
    }
    let releaseSlot: () => void;
    try {
      releaseSlot = await this.#process.acquire(Math.max(0, deadline - Date.now()), signal, () => {
        return new UploadSlotsBusyError(this.#process.capacity);
      });
    } catch (error) {
      releaseShare();
      forget();
      throw error;
    }
    let given = false;
    return () => {
      if (given) return;
      given = true;
      releaseSlot();
      releaseShare();
      forget();
    };
  }
}

interface Waiter {
  readonly grant: (release: () => void) => void;
  readonly timer: NodeJS.Timeout | undefined;
}

/** Slots handed out first come, first served, with a bounded wait. */
class Semaphore {
  #inUse = 0;
  readonly #waiters: Waiter[] = [];

  constructor(readonly capacity: number) {}

  /** Nobody holds or waits for a slot. */
  get idle(): boolean {
    return this.#inUse === 0 && this.#waiters.length === 0;
  }

  acquire(waitMs: number, signal: AbortSignal | undefined, busy: () => Error): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#inUse < this.capacity) {
      this.#inUse++;
      return Promise.resolve(this.#releaser());
    }
    if (waitMs <= 0) return Promise.reject(busy());
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
        timer: setTimeout(() => leave(busy()), waitMs),
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
