/**
 * Where a job stands and when it should start and finish (docs/api.md, "Where a job stands"):
 * its place among its tenant's jobs waiting for their share, that share of the submit rate the
 * workers' budget allows now (the submit-rate note), and the model's recent latencies at Segmind.
 * What every job needs (the rate, the pause, the shares, a model's latencies) is read at most once
 * a second per process; a queued job's place is one ZRANK, pipelined for a page of jobs.
 */
import {
  fairReadyKey,
  isFinal,
  type JobEstimate,
  type JobRecord,
  modelLatencyKey,
  NO_ESTIMATE,
  type PauseControl,
  type RedisConnection,
  submitRateKey,
  type WeightOf,
} from '@renderq/shared';
import type { FairShareNow } from './fair-share-reading.js';

const REUSE_MS = 1_000;
const MAX_MODELS_KEPT = 256;

export interface JobEstimatesOptions {
  readonly redis: RedisConnection;
  readonly prefix: string;
  readonly fairShare: boolean;
  readonly fairShareNow: () => Promise<FairShareNow>;
  readonly weightOf: WeightOf;
  readonly pause: PauseControl;
}

interface Shared {
  /** Submits per second the budget allows now; undefined when no worker has said. */
  readonly perSecond: number | undefined;
  readonly paused: boolean;
  readonly share: FairShareNow | undefined;
}

export class JobEstimates {
  readonly #options: JobEstimatesOptions;
  #shared: { at: number; reading: Promise<Shared> } | undefined;
  readonly #latency = new Map<string, { at: number; reading: Promise<number | undefined> }>();

  constructor(options: JobEstimatesOptions) {
    this.#options = options;
  }

  /**
   * Each record's estimate, in order; final jobs get none. Best effort: a read that fails gives no
   * estimate rather than failing the view it is part of (a job just created, above all).
   */
  async of(records: readonly JobRecord[]): Promise<JobEstimate[]> {
    if (records.every((record) => isDone(record))) return records.map(() => NO_ESTIMATE);
    try {
      return await this.#estimates(records);
    } catch {
      return records.map(() => NO_ESTIMATE);
    }
  }

  async #estimates(records: readonly JobRecord[]): Promise<JobEstimate[]> {
    const now = Date.now();
    const [shared, places] = await Promise.all([this.#sharedReading(now), this.#places(records)]);
    const models = [...new Set(records.filter((r) => !isDone(r)).map((r) => r.model))];
    const latencies = new Map(
      await Promise.all(models.map(async (m) => [m, await this.#medianLatency(m, now)] as const)),
    );
    return records.map((record, i) => this.#estimate(record, places[i], shared, latencies.get(record.model), now));
  }

  #estimate(
    record: JobRecord,
    place: number | undefined,
    shared: Shared,
    latencyMs: number | undefined,
    now: number,
  ): JobEstimate {
    const stage = record.stage;
    const finishAfter = (startMs: number | undefined) =>
      startMs === undefined || latencyMs === undefined ? null : iso(Math.max(now, startMs + latencyMs));
    switch (stage.name) {
      case 'queued': {
        // Without fair share a job's place counts every tenant's jobs: not for a tenant to see.
        if (!this.#options.fairShare) return NO_ESTIMATE;
        const position = place ?? 0;
        const rate = this.#tenantRate(record.tenant, shared);
        // The jobs ahead, and this one, each take one submit of the tenant's share.
        const startMs = rate === undefined || shared.paused ? undefined : now + ((position + 1) / rate) * 1_000;
        return {
          queue_position: position,
          estimated_start_at: startMs === undefined ? null : iso(startMs),
          estimated_finish_at: finishAfter(startMs),
        };
      }
      case 'submitting':
        return { ...NO_ESTIMATE, estimated_finish_at: finishAfter(Date.parse(stage.since)) };
      case 'polling':
        return { ...NO_ESTIMATE, estimated_finish_at: finishAfter(Date.parse(stage.submitted_at)) };
      case 'storing':
        // Segmind has finished; storing takes moments.
        return { ...NO_ESTIMATE, estimated_finish_at: iso(now) };
      default:
        return NO_ESTIMATE;
    }
  }

  /** The tenant's share of the submit rate: by weight among the tenants waiting, all of it when alone. */
  #tenantRate(tenant: string, shared: Shared): number | undefined {
    if (shared.perSecond === undefined || shared.perSecond <= 0) return undefined;
    if (!shared.share) return shared.perSecond;
    const weight = this.#options.weightOf(tenant);
    const others = shared.share.totalWeight - (shared.share.waiting.has(tenant) ? weight : 0);
    return (shared.perSecond * weight) / (others + weight);
  }

  /** Each queued record's place (ZRANK) where it waits; undefined for the rest, and for one no longer there. */
  async #places(records: readonly JobRecord[]): Promise<(number | undefined)[]> {
    const queued = records.flatMap((record, i) => (record.stage.name === 'queued' ? [i] : []));
    if (queued.length === 0 || !this.#options.fairShare) return records.map(() => undefined);
    const { redis, prefix } = this.#options;
    const pipeline = redis.pipeline();
    for (const i of queued) {
      const record = records[i] as JobRecord;
      pipeline.zrank(fairReadyKey(prefix, record.tenant), record.id);
    }
    const answers = (await pipeline.exec()) ?? [];
    const places: (number | undefined)[] = records.map(() => undefined);
    queued.forEach((i, n) => {
      const [error, rank] = answers[n] ?? [null, null];
      places[i] = error || typeof rank !== 'number' ? undefined : rank;
    });
    return places;
  }

  #sharedReading(now: number): Promise<Shared> {
    if (!this.#shared || now - this.#shared.at > REUSE_MS) {
      const reading = this.#readShared();
      reading.catch(() => {
        if (this.#shared?.reading === reading) this.#shared = undefined;
      });
      this.#shared = { at: now, reading };
    }
    return this.#shared.reading;
  }

  async #readShared(): Promise<Shared> {
    const { redis, prefix, fairShare, fairShareNow, pause } = this.#options;
    const [note, paused, share] = await Promise.all([
      redis.get(submitRateKey(prefix)),
      pause.state(),
      fairShare ? fairShareNow() : Promise.resolve(undefined),
    ]);
    return { perSecond: rateOf(note, Date.now()), paused: paused.paused, share };
  }

  /** The median of the model's recent latencies at Segmind (the poll schedule's list), ms. */
  #medianLatency(model: string, now: number): Promise<number | undefined> {
    const cached = this.#latency.get(model);
    if (cached && now - cached.at <= REUSE_MS) return cached.reading;
    const reading = this.#options.redis.lrange(modelLatencyKey(this.#options.prefix, model), 0, -1).then(median);
    reading.catch(() => this.#latency.delete(model));
    // Models outside the catalogue may be many (RENDERQ_ALLOW_UNKNOWN_MODELS): the readings kept stay few.
    if (this.#latency.size >= MAX_MODELS_KEPT) this.#latency.clear();
    this.#latency.set(model, { at: now, reading });
    return reading;
  }
}

function isDone(record: JobRecord): boolean {
  return isFinal(record.stage.name);
}

function rateOf(note: string | null, now: number): number | undefined {
  if (note === null) return undefined;
  try {
    const {
      per_second: perSecond,
      learned,
      held_until: heldUntil,
    } = JSON.parse(note) as { per_second?: unknown; learned?: unknown; held_until?: unknown };
    if (typeof perSecond !== 'number' || !Number.isFinite(perSecond) || learned !== true) return undefined;
    // While a 429 holds every submit the rate is not what comes next: no estimate rather than a wrong one.
    return typeof heldUntil === 'number' && heldUntil > now ? undefined : perSecond;
  } catch {
    return undefined;
  }
}

function median(values: readonly string[]): number | undefined {
  const numbers = values.map(Number).filter((n) => Number.isFinite(n) && n >= 0);
  if (numbers.length === 0) return undefined;
  numbers.sort((a, b) => a - b);
  const middle = Math.floor(numbers.length / 2);
  return numbers.length % 2 === 1
    ? (numbers[middle] as number)
    : ((numbers[middle - 1] as number) + (numbers[middle] as number)) / 2;
}

function iso(ms: number): string {
  return new Date(Math.round(ms)).toISOString();
}
