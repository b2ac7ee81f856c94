/**
 * One queue's BullMQ worker, replaceable. A BullMQ worker that stops taking jobs while Redis
 * answers (a blocking connection that ended or hangs after a failover) still says it runs; the
 * progress watch (progress-watch.ts) then replaces it by a new one with fresh connections. The new
 * one starts as the old one was (running or paused). The old one is paused at once (it takes
 * nothing more), lets the steps it holds finish, and is then closed without waiting for a fetch
 * that may never return. Each worker's steps are counted, so that a worker whose every slot is busy
 * is never taken for a stalled one.
 */
import type { Logger } from '@renderq/shared';
import { type Job, type Processor, Worker, type WorkerOptions } from 'bullmq';

/** A worker and the steps it is running now. */
interface Running {
  readonly worker: Worker;
  readonly steps: number;
}

export class Consumer {
  readonly queueName: string;
  readonly #processor: Processor;
  readonly #options: WorkerOptions & { readonly concurrency: number };
  readonly #logger: Logger;
  #current: Running;
  #lastTakenAt = Date.now();
  #started = false;
  #closed = false;
  readonly #retiring = new Set<Promise<void>>();

  /** Not started until `start` (at once, or when storage allows). */
  constructor(
    queueName: string,
    processor: Processor,
    options: WorkerOptions & { readonly concurrency: number },
    logger: Logger,
  ) {
    this.queueName = queueName;
    this.#processor = processor;
    this.#options = options;
    this.#logger = logger;
    this.#current = this.#make();
  }

  /** The worker now consuming the queue. */
  get worker(): Worker {
    return this.#current.worker;
  }

  /** When it last took a job (or was started). */
  get lastTakenAt(): number {
    return this.#lastTakenAt;
  }

  /** Whether it is waiting on purpose: not started yet (storage not usable), or paused. */
  get holding(): boolean {
    return !this.#started || this.#current.worker.isPaused();
  }

  /** Whether every slot of the current worker holds a step: it takes nothing more until one ends. */
  get busy(): boolean {
    return this.#current.steps >= this.#options.concurrency;
  }

  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#lastTakenAt = Date.now();
    this.#run(this.#current.worker);
  }

  /** Puts a new worker in place of the current one, which finishes the steps it holds and closes. */
  renew(): void {
    if (this.#closed) return;
    const old = this.#current;
    this.#current = this.#make();
    if (this.#started) {
      this.#run(this.#current.worker);
      if (old.worker.isPaused()) void this.#current.worker.pause(true);
    }
    const retiring = this.#retire(old);
    this.#retiring.add(retiring);
    void retiring.finally(() => this.#retiring.delete(retiring));
  }

  /** Closes the worker, waiting for the steps it and the workers it replaced hold. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([this.#current.worker.close(), ...this.#retiring]);
  }

  async #retire(old: Running): Promise<void> {
    try {
      // Takes nothing more from now on; a fetch of its that hangs is not waited for.
      await old.worker.pause(true);
      while (old.steps > 0) await new Promise((resolve) => setTimeout(resolve, 100));
      await old.worker.close(true);
    } catch (error) {
      this.#logger.warn({ err: error, queue: this.queueName }, 'closing a replaced worker failed');
    }
  }

  #make(): Running {
    const steps = { now: 0 };
    const processor: Processor = async (job: Job, token?: string, signal?: AbortSignal) => {
      steps.now++;
      try {
        return await this.#processor(job, token, signal);
      } finally {
        steps.now--;
      }
    };
    const worker = new Worker(this.queueName, processor, { ...this.#options, autorun: false });
    worker.on('active', () => {
      this.#lastTakenAt = Date.now();
    });
    worker.on('error', (error) => this.#logger.error({ err: error, queue: this.queueName }, 'worker error'));
    return {
      worker,
      get steps() {
        return steps.now;
      },
    };
  }

  #run(worker: Worker): void {
    worker
      .run()
      .catch((error: unknown) => this.#logger.error({ err: error, queue: this.queueName }, 'a worker stopped'));
  }
}
