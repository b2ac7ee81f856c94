/**
 * Each model's simulated GPUs: a request waits, in submit order, while all of its model's
 * GPUs are busy, then holds one for its drawn latency. The GPU count and the latency are
 * asked for at each start, so a change at run time applies from the next request on.
 */
import { type EmulatedRequest, startProcessing } from './emulated-request.js';

export interface GpuWork {
  /** GPUs each model has, now. */
  readonly gpusPerModel: () => number;
  readonly latency: (model: string) => number;
  /** Ends a request that has had its time on a GPU; the GPU is free once this settles. */
  readonly finish: (request: EmulatedRequest) => Promise<void>;
}

export class GpuQueues {
  readonly #work: GpuWork;
  readonly #waiting = new Map<string, EmulatedRequest[]>();
  readonly #busy = new Map<string, number>();
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(work: GpuWork) {
    this.#work = work;
  }

  enqueue(request: EmulatedRequest): void {
    const queue = this.#waiting.get(request.model) ?? [];
    queue.push(request);
    this.#waiting.set(request.model, queue);
    this.#pump(request.model);
  }

  /** Takes a request out of its queue, if it waits there: it runs elsewhere. */
  withdraw(request: EmulatedRequest): void {
    const queue = this.#waiting.get(request.model);
    const index = queue?.indexOf(request) ?? -1;
    if (queue && index >= 0) queue.splice(index, 1);
  }

  /** Starts what free GPUs can take; more GPUs may have been configured. */
  startWaiting(): void {
    for (const model of this.#waiting.keys()) this.#pump(model);
  }

  /** Stops the requests on GPUs where they are: they never finish. */
  close(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  #pump(model: string): void {
    const queue = this.#waiting.get(model);
    if (!queue) return;
    while (queue.length > 0 && (this.#busy.get(model) ?? 0) < this.#work.gpusPerModel()) {
      const request = queue.shift() as EmulatedRequest;
      this.#busy.set(model, (this.#busy.get(model) ?? 0) + 1);
      startProcessing(request);
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        void this.#work.finish(request).finally(() => {
          this.#busy.set(model, (this.#busy.get(model) ?? 1) - 1);
          this.#pump(model);
        });
      }, this.#work.latency(model));
      this.#timers.add(timer);
    }
  }
}
