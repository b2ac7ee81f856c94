/**
 * Jobs' changes of stage (and their batches' finishing jobs) as they happen, for this API process:
 * one subscription to the channel the transition script publishes every change on, fanned out here
 * to each event stream and waiting request of the job or batch — so a change costs this process one message, however many wait for it, and
 * no Redis read per subscriber. A message lost while the subscription reconnects is made up for by
 * a `resync`, after which each listener reads what it missed once.
 */
import { connectionCopy, type Logger, type RedisConnection } from '@renderq/shared';

export type JobChange =
  | {
      readonly kind: 'change';
      /** The job, or the batch whose job finished (or which finished). */
      readonly subject: string;
      readonly eventId: string;
      /** A job's new stage; for a batch, its job's final status, or `batch.completed`. */
      readonly stage: string;
      /** For a batch: the job that finished ('' otherwise). */
      readonly job: string;
    }
  /** The subscription was down for a while: changes may have been missed. */
  | { readonly kind: 'resync' }
  /** The process is closing: streams end and waiting requests answer now. */
  | { readonly kind: 'closing' };

type Listener = (change: JobChange) => void;

export class JobChanges {
  readonly #redis: RedisConnection;
  readonly #channel: string;
  readonly #logger: Logger;
  readonly #listeners = new Map<string, Set<Listener>>();
  #subscriber: RedisConnection | undefined;
  #subscribed: Promise<void> | undefined;
  #closed = false;

  constructor(redis: RedisConnection, channel: string, logger: Logger) {
    this.#redis = redis;
    this.#channel = channel;
    this.#logger = logger;
  }

  /** Listeners now, all jobs together (what a bench or a test reads). */
  get listeners(): number {
    let count = 0;
    for (const set of this.#listeners.values()) count += set.size;
    return count;
  }

  /**
   * Calls `listener` with each change of the job or batch `subject` names (and each resync) until the
   * returned function is called. Resolves once the subscription is in place: a change made after
   * that is seen.
   */
  async listen(subject: string, listener: Listener): Promise<() => void> {
    // A request that comes to listen while the process closes is told at once.
    if (this.#closed) {
      listener({ kind: 'closing' });
      return () => undefined;
    }
    let set = this.#listeners.get(subject);
    if (!set) {
      set = new Set();
      this.#listeners.set(subject, set);
    }
    set.add(listener);
    const stop = () => {
      set.delete(listener);
      if (set.size === 0 && this.#listeners.get(subject) === set) this.#listeners.delete(subject);
    };
    try {
      await this.#subscribe();
    } catch (error) {
      stop();
      throw error;
    }
    return stop;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#broadcast({ kind: 'closing' });
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    this.#subscribed = undefined;
    // Nothing to finish on a subscription: cut at once (a QUIT can wait on a subscriber connection).
    subscriber?.disconnect();
  }

  #subscribe(): Promise<void> {
    if (!this.#subscribed) {
      const subscriber = connectionCopy(this.#redis, false, 'renderq-api-job-changes');
      this.#subscriber = subscriber;
      let connectedOnce = false;
      subscriber.on('message', (_channel: string, message: string) => this.#deliver(message));
      // ioredis subscribes again after a reconnect (after its 'ready'); what was published meanwhile
      // is gone. Listeners read what they missed once the channel is theirs again (and each stream
      // also reads its change stream every keep-alive, which covers what this cannot see).
      subscriber.on('ready', () => {
        if (!connectedOnce) {
          connectedOnce = true;
          return;
        }
        subscriber.subscribe(this.#channel).then(
          () => this.#broadcast({ kind: 'resync' }),
          () => undefined,
        );
      });
      subscriber.on('error', (error: Error) => this.#logger.warn({ err: error }, 'job changes subscription failed'));
      this.#subscribed = subscriber.subscribe(this.#channel).then(
        () => undefined,
        (error: unknown) => {
          this.#subscribed = undefined;
          this.#subscriber = undefined;
          subscriber.disconnect();
          throw error;
        },
      );
    }
    return this.#subscribed;
  }

  #deliver(message: string): void {
    const [subject = '', eventId = '', stage = '', job = ''] = message.split('|');
    const set = this.#listeners.get(subject);
    if (!set) return;
    const change: JobChange = { kind: 'change', subject, eventId, stage, job };
    for (const listener of [...set]) listener(change);
  }

  #broadcast(change: JobChange): void {
    for (const set of this.#listeners.values()) for (const listener of [...set]) listener(change);
  }
}
