/**
 * Keeps new work out of a Redis that is nearly full. renderq runs Redis with
 * maxmemory-policy noeviction: past maxmemory every write fails, and jobs in flight could no
 * longer move. Each API process reads `INFO memory` (every master's, in a cluster) twice a
 * second and refuses new jobs and batches with a 503 once the fullest node passes the guard's
 * share of its maxmemory, so the rest stays for the work already accepted. Between two readings
 * it adds up what it let in, so that a burst cannot run past the mark unseen.
 */
import type { Logger, RedisConnection } from '@renderq/shared';
import type { FastifyRequest } from 'fastify';
import { Cluster } from 'ioredis';
import { RetryLaterProblem } from '../http/problems.js';

export interface MemoryGuardOptions {
  /** Percent of maxmemory past which new work is refused; 0: never. */
  readonly percent: number;
  readonly logger: Logger;
  /** Called for each refusal (to count them). */
  readonly onRefused?: () => void;
  /** @defaultValue 500 */
  readonly intervalMs?: number;
}

/** What one job costs Redis beside its body: its record's fields, its BullMQ job, its index entries. */
const BYTES_PER_JOB = 2_048;
/** How long a refused caller should wait: jobs in flight finish and their space is freed meanwhile. */
const RETRY_AFTER_SECONDS = 10;

interface Reading {
  readonly used: number;
  readonly max: number;
}

export class RedisMemoryGuard {
  readonly #redis: RedisConnection;
  readonly #options: MemoryGuardOptions;
  /** The fullest node at the last reading; max 0: no maxmemory, nothing to guard. */
  #reading: Reading = { used: 0, max: 0 };
  /** Bytes let in since that reading. */
  #admitted = 0;
  #refusing = false;
  #timer: NodeJS.Timeout | undefined;
  #pendingRead: Promise<void> | undefined;

  constructor(redis: RedisConnection, options: MemoryGuardOptions) {
    this.#redis = redis;
    this.#options = options;
  }

  /** Takes the first reading, then one every interval (a reading still under way is not doubled). */
  async start(): Promise<void> {
    if (this.#options.percent === 0) return;
    await this.#read();
    this.#timer = setInterval(() => void this.#read(), this.#options.intervalMs ?? 500);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /**
   * Lets in `jobs` new jobs whose bodies take about `bodyBytes`, or throws a 503
   * (RetryLaterProblem) when they would take Redis past the mark.
   */
  admit(jobs: number, bodyBytes: number): void {
    const { percent } = this.#options;
    const { used, max } = this.#reading;
    if (percent === 0 || max === 0) return;
    const bytes = bodyBytes + jobs * BYTES_PER_JOB;
    const mark = (max * percent) / 100;
    if (used + this.#admitted + bytes > mark) {
      this.#options.onRefused?.();
      throw new RetryLaterProblem(
        'service_unavailable',
        `Redis holds ${mib(used + this.#admitted)} of its ${mib(max)} maxmemory and renderq takes new work ` +
          `only below ${percent} % (REDIS_MEMORY_GUARD_PERCENT), keeping the rest for jobs already accepted, ` +
          `which go on: retry in ${RETRY_AFTER_SECONDS} s`,
        RETRY_AFTER_SECONDS,
      );
    }
    this.#admitted += bytes;
  }

  #read(): Promise<void> {
    this.#pendingRead ??= this.#readNodes().finally(() => {
      this.#pendingRead = undefined;
    });
    return this.#pendingRead;
  }

  async #readNodes(): Promise<void> {
    const nodes = this.#redis instanceof Cluster ? this.#redis.nodes('master') : [this.#redis];
    let readings: Reading[];
    try {
      readings = (await Promise.all(nodes.map((node) => node.info('memory')))).map(parseReading);
    } catch {
      // An unreachable Redis refuses writes on its own; the last reading stands until one succeeds.
      return;
    }
    const bounded = readings.filter((r) => r.max > 0);
    this.#reading = bounded.reduce((fullest, r) => (r.used / r.max > fullest.used / fullest.max ? r : fullest), {
      used: 0,
      max: bounded[0]?.max ?? 0,
    });
    this.#admitted = 0;
    this.#logChange();
  }

  #logChange(): void {
    const { used, max } = this.#reading;
    const refusing = max > 0 && used > (max * this.#options.percent) / 100;
    if (refusing === this.#refusing) return;
    this.#refusing = refusing;
    const figures = { usedBytes: used, maxmemoryBytes: max, guardPercent: this.#options.percent };
    if (refusing)
      this.#options.logger.warn(figures, 'Redis is nearly full: new jobs and batches get 503 until it is not');
    else this.#options.logger.info(figures, 'Redis has room again: new jobs and batches are taken');
  }
}

function parseReading(info: string): Reading {
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
  return { used: field('used_memory'), max: field('maxmemory') };
}

function mib(bytes: number): string {
  return `${(bytes / 1_048_576).toFixed(1)} MiB`;
}

/** The request body's size as its Content-Length gives it (0 when it came chunked: the per-job estimate stands). */
export function bodyBytes(request: FastifyRequest): number {
  return Number(request.headers['content-length']) || 0;
}
