/**
 * One queue's BullMQ worker, replaceable. A BullMQ worker whose blocking connection has ended (after
 * a Redis failover, say) keeps saying it runs while it takes nothing; the progress watch
 * (progress-watch.ts) then replaces it by a new one with fresh connections. The new one starts as
 * the old one was (running or paused); the old one finishes the steps it holds and closes.
 */
import type { Logger } from '@renderq/shared';
import type { Job, Worker } from 'bullmq';

const RETIRED_CLOSE_MS = 10_000;

export class Consumer {
  readonly queueName: string;
  readonly #make: () => Worker;
  readonly #logger: Logger;
  #worker: Worker;
  #lastTakenAt = Date.now();
  #started = false;
  readonly #retired = new Set<Promise<void>>();

  /** `make` builds the worker with `autorun: false`: `start` runs it (at once, or when storage allows). */
  constructor(queueName: string, make: () => Worker, logger: Logger) {
    this.queueName = queueName;
    this.#make = make;
    this.#logger = logger;
    this.#worker = this.#wire(make());
  }

  /** The worker now consuming the queue. */
  get worker(): Worker {
    return this.#worker;
  }

  /** When it last took a job (or was started). */
  get lastTakenAt(): number {
    return this.#lastTakenAt;
  }

  start(): void {
    this.#started = true;
    this.#lastTakenAt = Date.now();
    this.#run(this.#worker);
  }

  /** Puts a new worker in place of the current one, which finishes what it holds and closes. */
  renew(): void {
    const old = this.#worker;
    this.#worker = this.#wire(this.#make());
    if (this.#started) {
      this.#run(this.#worker);
      if (old.isPaused()) void this.#worker.pause(true);
    }
    const closing = old
      .close()
      .catch((error: unknown) =>
        this.#logger.warn({ err: error, queue: this.queueName }, 'closing a replaced worker failed'),
      );
    this.#retired.add(closing);
    void closing.finally(() => this.#retired.delete(closing));
  }

  /**
   * Closes the worker, waiting for the steps it holds, and for replaced ones still closing at most
   * RETIRED_CLOSE_MS: a worker replaced because it was stuck may never finish closing.
   */
  async close(): Promise<void> {
    const retired = Promise.race([
      Promise.all(this.#retired),
      new Promise((resolve) => setTimeout(resolve, RETIRED_CLOSE_MS).unref()),
    ]);
    await Promise.all([this.#worker.close(), retired]);
  }

  #run(worker: Worker): void {
    worker
      .run()
      .catch((error: unknown) => this.#logger.error({ err: error, queue: this.queueName }, 'a worker stopped'));
  }

  #wire(worker: Worker): Worker {
    worker.on('active', (_job: Job) => {
      this.#lastTakenAt = Date.now();
    });
    worker.on('error', (error) => this.#logger.error({ err: error, queue: this.queueName }, 'worker error'));
    return worker;
  }
}
