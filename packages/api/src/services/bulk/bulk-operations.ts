/**
 * Bulk actions as operations: the chosen jobs are kept in Redis with the operation's progress,
 * and an API process works through them a step at a time under a lease. A step is one tenant's
 * next jobs (at most STEP_JOBS): replayed through the same admission as new jobs (quota, budgets,
 * enqueue rate: a refused step is tried smaller at once, and a single job refused waits for room
 * rather than failing), or cancelled. Progress and the chosen list move on together after each
 * step, by a script that commits only for the lease's holder and only the jobs still at the list's
 * head (commit-bulk-step-3.lua). An abort is a flag read between steps, so every job is either
 * acted on once or left untouched; a replay is recorded by the script that marks its job replayed,
 * so a step run twice (a process died in it, or its lease lapsed and another took it over)
 * replays nothing twice.
 */
import { randomUUID } from 'node:crypto';
import type { BulkAction, BulkOperation, BulkOperationStatus } from '@renderq/contract';
import {
  bulkOperationKey,
  bulkOperationLeaseKey,
  bulkOperationTargetsKey,
  defineScripts,
  findModel,
  type JobRecord,
  microsToUsd,
  newId,
  runningBulkOperationsKey,
} from '@renderq/shared';
import type { ApiContext } from '../../api-context.js';
import { Problem, RetryLaterProblem } from '../../http/problems.js';
import { withAdmission } from '../admission.js';
import { cancelJob } from '../cancel-job.js';
import { urlsOfJob } from '../url-guard.js';
import { type BulkActor, type BulkSelection, skipReason } from './bulk-selection.js';

/** The most jobs one step acts on: an abort waits at most for one step. */
const STEP_JOBS = 100;
/** How long a lease lasts unrenewed (whole seconds); it is renewed every third of that. */
const LEASE_MS = 15_000;
/** Operations one tenant (or the operators together) may have running at once. */
export const MAX_RUNNING_OPERATIONS = 5;
/** How often a waiting operation looks for an abort. */
const ABORT_CHECK_MS = 1_000;
/** How often each API process looks for operations whose process died. */
const SWEEP_MS = 10_000;
/** The longest wait before a refused step is tried again (a Retry-After may say less). */
const MAX_WAIT_MS = 30_000;
/** How long an ended operation stays readable. */
const KEEP_ENDED_MS = 7 * 24 * 3600 * 1000;
/** Chosen jobs written to Redis per command. */
const WRITE_CHUNK = 10_000;

type StepOutcome =
  | { readonly kind: 'done'; readonly acted: number; readonly skipped: number; readonly reservedMicros: number }
  /** Admission refused the step: with `retryAfterMs`, for now (a full quota, budget or rate); else for good. */
  | { readonly kind: 'refused'; readonly why: string; readonly retryAfterMs?: number };

export class BulkOperations {
  readonly #ctx: ApiContext;
  readonly #owner = randomUUID();
  readonly #running = new Map<string, Promise<void>>();
  #sweeper: NodeJS.Timeout | undefined;
  #stopping = false;

  constructor(ctx: ApiContext) {
    this.#ctx = ctx;
    defineScripts(ctx.redis);
  }

  /** Takes over, now and every SWEEP_MS, the operations whose process stopped running them. */
  startSweeping(): void {
    const sweep = () => {
      this.#sweep().catch((error: unknown) =>
        this.#ctx.logger.warn({ err: error }, 'looking for bulk operations failed'),
      );
    };
    sweep();
    this.#sweeper = setInterval(sweep, SWEEP_MS);
    this.#sweeper.unref();
  }

  /** Stops after each operation's step under way and lets go of its lease, for another process to go on. */
  async close(): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#sweeper);
    await Promise.allSettled([...this.#running.values()]);
  }

  /** Records an operation over `selection` and starts it in this process. */
  async start(actor: BulkActor, action: BulkAction, selection: BulkSelection): Promise<BulkOperation> {
    const { redis, config } = this.#ctx;
    const prefix = config.redis.prefix;
    await this.#refuseBeyondCap(actor);
    const id = newId('op');
    const skipped = Object.values(selection.skipped).reduce((sum, n) => sum + n, 0);
    const fields = {
      id,
      action,
      actor: actorName(actor),
      status: 'running',
      total: String(selection.targets.length + skipped),
      processed: String(skipped),
      acted: '0',
      skipped: String(skipped),
      estimated_micros: String(selection.estimatedMicros),
      reserved_micros: '0',
      created_at: new Date().toISOString(),
    };
    const multi = redis.multi().hset(bulkOperationKey(prefix, id), fields);
    for (let start = 0; start < selection.targets.length; start += WRITE_CHUNK) {
      multi.rpush(bulkOperationTargetsKey(prefix, id), ...selection.targets.slice(start, start + WRITE_CHUNK));
    }
    await multi.sadd(runningBulkOperationsKey(prefix), id).exec();
    this.#run(id);
    return viewOf(fields);
  }

  /** Refuses a new operation while `actor` has MAX_RUNNING_OPERATIONS running (429, naming them). */
  async #refuseBeyondCap(actor: BulkActor): Promise<void> {
    const { redis, config } = this.#ctx;
    const ids = await redis.smembers(runningBulkOperationsKey(config.redis.prefix));
    if (ids.length < MAX_RUNNING_OPERATIONS) return;
    const pipeline = redis.pipeline();
    for (const id of ids) pipeline.hget(bulkOperationKey(config.redis.prefix, id), 'actor');
    const actors = ((await pipeline.exec()) ?? []).map(([, value]) => value);
    const own = ids.filter((_, i) => actors[i] === actorName(actor));
    if (own.length < MAX_RUNNING_OPERATIONS) return;
    throw new RetryLaterProblem(
      'too_many_requests',
      `${actor.kind === 'tenant' ? `tenant ${actor.tenant}` : 'operators'} already ${own.length === 1 ? 'has' : 'have'} ` +
        `${own.length} bulk operations running (${own.sort().join(', ')}), at most ${MAX_RUNNING_OPERATIONS}: ` +
        'wait for one to end, or abort one',
      30,
    );
  }

  /** The operation, when `actor` may see it: its own, or any for an operator. */
  async read(actor: BulkActor, id: string): Promise<BulkOperation | undefined> {
    const fields = await this.#ctx.redis.hgetall(bulkOperationKey(this.#ctx.config.redis.prefix, id));
    if (!fields.id || (actor.kind === 'tenant' && fields.actor !== actorName(actor))) return undefined;
    return viewOf(fields);
  }

  /**
   * Asks the operation to stop after its step under way; answers it as it is then (`aborting`
   * until its runner stops), or undefined when `actor` may not see it.
   */
  async abort(actor: BulkActor, id: string): Promise<BulkOperation | undefined> {
    const view = await this.read(actor, id);
    if (!view) return undefined;
    if (view.status !== 'running') {
      throw new Problem(
        'conflict',
        `operation ${id} has already ${view.status === 'aborting' ? 'been asked to stop' : 'ended'} (${view.status})`,
      );
    }
    await this.#ctx.redis.hset(bulkOperationKey(this.#ctx.config.redis.prefix, id), 'abort_requested', '1');
    // A runner that died leaves the abort to whichever process takes the operation over; help it along.
    if (!this.#running.has(id)) this.#run(id);
    return (await this.read(actor, id)) as BulkOperation;
  }

  async #sweep(): Promise<void> {
    if (this.#stopping) return;
    const ids = await this.#ctx.redis.smembers(runningBulkOperationsKey(this.#ctx.config.redis.prefix));
    for (const id of ids) if (!this.#running.has(id)) this.#run(id);
  }

  /** Runs operation `id` here if no process holds its lease. */
  #run(id: string): void {
    if (this.#running.has(id) || this.#stopping) return;
    const running = this.#leased(id)
      .catch((error: unknown) => {
        this.#ctx.logger.error({ err: error, operation_id: id }, 'a bulk operation stopped; another step takes it on');
      })
      .finally(() => {
        this.#running.delete(id);
        this.#ctx.background.delete(running);
      });
    this.#running.set(id, running);
    this.#ctx.background.add(running);
  }

  async #leased(id: string): Promise<void> {
    const { redis } = this.#ctx;
    const lease = bulkOperationLeaseKey(this.#ctx.config.redis.prefix, id);
    if ((await redis.set(lease, this.#owner, 'PX', LEASE_MS, 'NX')) !== 'OK') return;
    let held = true;
    const renew = setInterval(() => {
      redis
        .renderqTakeOverClaim(lease, this.#owner, this.#owner, String(LEASE_MS / 1000))
        .then((renewed) => {
          if (renewed !== 1) held = false;
        })
        .catch(() => {
          // Tried again in a third of the lease; one that lapses is taken over, and its step is not committed.
        });
    }, LEASE_MS / 3);
    try {
      await this.#steps(id, () => held && !this.#stopping);
    } finally {
      clearInterval(renew);
      if ((await redis.get(lease).catch(() => null)) === this.#owner) await redis.del(lease).catch(() => undefined);
    }
  }

  async #steps(id: string, mayGoOn: () => boolean): Promise<void> {
    const { redis } = this.#ctx;
    const prefix = this.#ctx.config.redis.prefix;
    const key = bulkOperationKey(prefix, id);
    const targets = bulkOperationTargetsKey(prefix, id);
    let stepJobs = STEP_JOBS;
    while (mayGoOn()) {
      const fields = await redis.hgetall(key);
      if (fields.status !== 'running') {
        // Gone (expired) or ended: nothing to run.
        await redis.srem(runningBulkOperationsKey(prefix), id);
        return;
      }
      if (fields.abort_requested === '1') return this.#end(id, 'aborted');
      const ids = await redis.lrange(targets, 0, stepJobs - 1);
      if (ids.length === 0) return this.#end(id, 'completed');
      const { records, taken } = await oneTenantsJobs(this.#ctx, ids);
      let outcome = fields.action === 'replay' ? await this.#replay(records) : await this.#cancel(records);
      if (outcome.kind === 'refused') {
        // A smaller step may fit the room there is; a single job waits for room, or is left alone for good.
        if (taken > 1) {
          stepJobs = Math.max(1, Math.floor(taken / 2));
          continue;
        }
        if (outcome.retryAfterMs !== undefined) {
          await redis.hset(key, 'waiting', outcome.why);
          await waitOrAbort(this.#ctx, key, outcome.retryAfterMs, mayGoOn);
          continue;
        }
        this.#ctx.logger.warn(
          { operation_id: id, job_id: ids[0], why: outcome.why },
          'bulk operation left a job alone',
        );
        outcome = { kind: 'done', acted: 0, skipped: records.length, reservedMicros: 0 };
      }
      const committed = await redis.renderqCommitBulkStep(
        key,
        targets,
        bulkOperationLeaseKey(prefix, id),
        this.#owner,
        LEASE_MS,
        outcome.acted,
        outcome.skipped + (taken - records.length),
        outcome.reservedMicros,
        ...ids.slice(0, taken),
      );
      // Another process holds the operation now: it goes on (this step's replays it finds replayed).
      if (committed !== 1) return;
      stepJobs = Math.min(STEP_JOBS, stepJobs * 2);
    }
  }

  /**
   * Replays the step's jobs still replayable, admitted as their tenant's new jobs are. A job whose
   * model is no longer taken, or whose URLs renderq would no longer call, is left alone.
   */
  async #replay(records: readonly JobRecord[]): Promise<StepOutcome> {
    const ctx = this.#ctx;
    const eligible: JobRecord[] = [];
    for (const record of records) {
      if (skipReason('replay', record) !== undefined) continue;
      if (!ctx.config.models.allowUnknown && !findModel(record.model)) continue;
      if ((await ctx.urlGuard.check(urlsOfJob(record.input, record.webhook_url ?? undefined))).length > 0) continue;
      eligible.push(record);
    }
    if (eligible.length === 0) return { kind: 'done', acted: 0, skipped: records.length, reservedMicros: 0 };
    const tenant = (eligible[0] as JobRecord).tenant;
    const request = {
      tenant,
      jobs: eligible,
      // What the memory guard weighs: the records' inputs (stored images are only referred to).
      bodyBytes: eligible.reduce((sum, record) => sum + JSON.stringify(record.input).length, 0),
      webhookUrl: null,
      webhookEvents: null,
    };
    try {
      // What each new job reserves, as admission worked it out: the operation reports what was reserved.
      let reserves: readonly number[] = [];
      const created = await withAdmission(ctx, request, (admitted) => {
        reserves = admitted.map((job) => job.reserveMicros);
        return ctx.store.createReplays(
          eligible.map((record, i) => ({
            tenant,
            model: record.model,
            input: record.input,
            inputs: record.inputs,
            metadata: record.metadata,
            webhookUrl: record.webhook_url,
            webhookEvents: record.webhook_events,
            priority: record.priority,
            replayOf: record.id,
            ...admitted[i],
          })),
        );
      });
      const made = new Set(created.map((record) => record.replay_of));
      const reservedMicros = eligible.reduce(
        (sum, record, i) => sum + (made.has(record.id) ? (reserves[i] ?? 0) : 0),
        0,
      );
      for (const record of created) ctx.metrics.jobsEnqueued.inc({ model: record.model });
      return { kind: 'done', acted: created.length, skipped: records.length - created.length, reservedMicros };
    } catch (error) {
      if (error instanceof RetryLaterProblem) {
        return {
          kind: 'refused',
          why: error.detail,
          retryAfterMs: Math.min(MAX_WAIT_MS, error.retryAfterSeconds * 1000),
        };
      }
      if (error instanceof Problem) return { kind: 'refused', why: error.detail };
      throw error;
    }
  }

  /** Cancels the step's jobs not yet finished. */
  async #cancel(records: readonly JobRecord[]): Promise<StepOutcome> {
    const moved = await Promise.all(
      records.map(
        async (record) => skipReason('cancel', record) === undefined && (await cancelJob(this.#ctx, record)).ok,
      ),
    );
    const acted = moved.filter(Boolean).length;
    return { kind: 'done', acted, skipped: records.length - acted, reservedMicros: 0 };
  }

  async #end(id: string, status: Extract<BulkOperationStatus, 'completed' | 'aborted' | 'failed'>, error?: string) {
    const prefix = this.#ctx.config.redis.prefix;
    const key = bulkOperationKey(prefix, id);
    await this.#ctx.redis
      .multi()
      .hset(key, { status, finished_at: new Date().toISOString(), ...(error ? { error } : {}) })
      .hdel(key, 'waiting', 'abort_requested')
      .pexpire(key, KEEP_ENDED_MS)
      .del(bulkOperationTargetsKey(prefix, id))
      .srem(runningBulkOperationsKey(prefix), id)
      .exec();
    this.#ctx.logger.info({ operation_id: id, status, error }, 'bulk operation ended');
  }
}

/**
 * The records of the leading ids that belong to one tenant (a step admits one tenant's jobs, so
 * that a refusal leaves the whole step undone), and how many ids that step takes off the list:
 * those, and any gone before them.
 */
async function oneTenantsJobs(
  ctx: ApiContext,
  ids: readonly string[],
): Promise<{ records: JobRecord[]; taken: number }> {
  const found = await ctx.store.getMany(ids);
  const records: JobRecord[] = [];
  let tenant: string | undefined;
  let taken = 0;
  for (const id of ids) {
    const record = found.get(id);
    if (record) {
      if (tenant !== undefined && record.tenant !== tenant) break;
      tenant = record.tenant;
      records.push(record);
    }
    taken += 1;
  }
  return { records, taken };
}

/** Waits `ms`, or less when the operation is asked to abort or its runner must stop. */
async function waitOrAbort(ctx: ApiContext, key: string, ms: number, mayGoOn: () => boolean): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until && mayGoOn()) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(ABORT_CHECK_MS, until - Date.now())));
    if ((await ctx.redis.hget(key, 'abort_requested')) === '1') return;
  }
}

function actorName(actor: BulkActor): string {
  return actor.kind === 'operator' ? 'operator' : `tenant:${actor.tenant}`;
}

function viewOf(fields: Record<string, string | undefined>): BulkOperation {
  const count = (name: string) => Number(fields[name] ?? 0);
  const ended = fields.status !== 'running';
  return {
    id: fields.id as string,
    action: fields.action as BulkAction,
    status: !ended && fields.abort_requested === '1' ? 'aborting' : (fields.status as BulkOperationStatus),
    total: count('total'),
    processed: count('processed'),
    acted: count('acted'),
    skipped: count('skipped'),
    estimated_cost: microsToUsd(count('estimated_micros')),
    reserved_cost: microsToUsd(count('reserved_micros')),
    waiting: fields.waiting ?? null,
    error: fields.error ?? null,
    created_at: fields.created_at as string,
    finished_at: fields.finished_at ?? null,
  };
}
