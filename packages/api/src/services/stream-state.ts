/**
 * What this process's event streams share: how many each tenant holds open (EVENT_STREAMS_PER_TENANT),
 * and each change's event (its subject's view read, and the event written out, once however many
 * streams send it).
 */
import { type JobStore, type OutputLinks, type PublicBatch, publicBatch } from '@renderq/shared';
import { RetryLaterProblem } from '../http/problems.js';

/** How long an event or a batch's view is kept for other streams in this process. */
const VIEW_REUSE_MS = 500;

/** Open streams per tenant in this process, each tenant up to its cap. */
export class StreamCounts {
  readonly #open = new Map<string, number>();
  readonly #perTenant: number;

  constructor(perTenant: number) {
    this.#perTenant = perTenant;
  }

  /** Counts one more stream of `tenant`, or refuses it with a 429; the returned function counts it closed. */
  open(tenant: string): () => void {
    const open = this.#open.get(tenant) ?? 0;
    if (open >= this.#perTenant) {
      throw new RetryLaterProblem(
        'too_many_requests',
        `tenant ${tenant} has ${open} event streams open on this API process and may have at most ` +
          `${this.#perTenant} (EVENT_STREAMS_PER_TENANT): close some, or follow batches rather than their jobs`,
        5,
      );
    }
    this.#open.set(tenant, open + 1);
    let closed = false;
    return () => {
      if (closed) return;
      closed = true;
      const left = (this.#open.get(tenant) ?? 1) - 1;
      if (left === 0) this.#open.delete(tenant);
      else this.#open.set(tenant, left);
    };
  }
}

/** Each change's event made once per process, and a batch's view read at most once per VIEW_REUSE_MS. */
export class ChangeViews {
  readonly #views = new Map<string, Promise<unknown>>();
  readonly #store: JobStore;
  readonly #links: OutputLinks;

  constructor(store: JobStore, links: OutputLinks) {
    this.#store = store;
    this.#links = links;
  }

  /** A batch's view, read at most once per VIEW_REUSE_MS however many of its jobs finish meanwhile. */
  batch(batchId: string): Promise<PublicBatch | undefined> {
    return this.#once(batchId, () =>
      this.#store.getBatch(batchId).then((batch) => batch && publicBatch(batch, this.#links)),
    );
  }

  /** A change's event as streams send it, made once per process however many streams send it. */
  event(key: string, make: () => Promise<{ text: string; final: boolean }>): Promise<{ text: string; final: boolean }> {
    return this.#once(`event|${key}`, make);
  }

  #once<T>(key: string, read: () => Promise<T>): Promise<T> {
    let view = this.#views.get(key) as Promise<T> | undefined;
    if (!view) {
      view = read();
      this.#views.set(key, view);
      // A failed read is not kept: the next stream to ask reads again.
      view.catch(() => this.#views.delete(key));
      setTimeout(() => this.#views.delete(key), VIEW_REUSE_MS).unref();
    }
    return view;
  }
}
