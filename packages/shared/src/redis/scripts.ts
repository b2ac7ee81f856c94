/**
 * Every Lua script renderq runs, registered in one place as typed ioredis commands. Each
 * script is a file in ./lua named for what it does and how many keys it takes, opening with
 * a header that names every KEYS and ARGV entry and its result; the build copies them next
 * to the compiled code. Scripts get every key they touch through KEYS (spelled in
 * redis/keys.ts), so they run unchanged on Redis Cluster. `defineScripts` is called by every
 * module that runs one; the types below (ioredis's own extension point) say how each is called.
 *
 * The job scripts start with Lua generated from the job lifecycle and the record's layout: the
 * job store hands that in (`JobLua`), so this registry depends on nothing of the jobs it serves.
 */
import { readFileSync } from 'node:fs';
import type { Result } from 'ioredis';
import type { RedisConnection } from './create-redis.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** transition-job-10-or-14.lua: 10 keys, or 14 for a job in a batch. */
    renderqTransitionJob(
      numberOfKeys: number,
      ...keysAndArgs: string[]
    ): Result<[code: number, stage: string, batchFinished: number, events: string], Context>;
    /** enter-fair-queue-n.lua: 3 keys and one per job. */
    renderqEnterFairQueue(numberOfKeys: number, ...keysAndArgs: string[]): Result<number, Context>;
    /** release-fair-share-n.lua: 3 keys and one per tenant named. */
    renderqReleaseFairShare(numberOfKeys: number, ...keysAndArgs: string[]): Result<string[], Context>;
    /** create-jobs-n.lua: 4 keys (5 in a batch) and five per job; 1 for each job recorded, 0 for each not. */
    renderqCreateJobs(numberOfKeys: number, ...keysAndArgs: string[]): Result<number[], Context>;
    /** claim-admission-7.lua: 7 keys, then its ARGV (see the script's header). */
    renderqClaimAdmission(
      ...keysAndArgs: string[]
    ): Result<[admitted: number, held: number, refusedBy: string, spent: number, warnings: string], Context>;
    /** drop-uncommitted-job-4.lua */
    renderqDropUncommittedJob(
      job: string,
      unfinished: string,
      tenantBacklog: string,
      tenantSpend: string,
      id: string,
      today: string,
    ): Result<number, Context>;
    /** follow-cancelled-2.lua */
    renderqFollowCancelled(
      job: string,
      unfinished: string,
      request: string,
      mode: 'start' | 'poll',
      nowMs: string,
    ): Result<number, Context>;
    /** settle-cancelled-3-or-4.lua: 3 keys, 4 for a job in a batch. */
    renderqSettleCancelled(numberOfKeys: number, ...keysAndArgs: string[]): Result<number, Context>;
    /** get-owned-1.lua */
    renderqGetOwned(key: string, tenant: string): Result<string[] | null, Context>;
    /** cancel-batch-1.lua */
    renderqCancelBatch(batch: string): Result<number, Context>;
    /** redeliver-event-2.lua */
    renderqRedeliverEvent(
      event: string,
      pending: string,
      nowIso: string,
      force: '0' | '1',
      nowMs: string,
    ): Result<string | null, Context>;
    /** record-attempt-3-or-4.lua: 3 keys, 4 when the attempt tells something about its host. */
    renderqRecordAttempt(
      numberOfKeys: number,
      ...keysAndArgs: string[]
    ): Result<[attempt: number, hostBackedOffUntil: number], Context>;
    /** take-enqueue-tokens-1.lua */
    renderqTakeEnqueueTokens(
      bucket: string,
      perSecond: string,
      burst: string,
      ...costs: string[]
    ): Result<number[], Context>;
    /** draw-submit-slot-1.lua */
    renderqDrawSubmitSlot(budget: string, ...args: string[]): Result<[granted: number, waitMs: number], Context>;
    /** count-accepted-submit-1.lua */
    renderqCountAcceptedSubmit(budget: string, nowMs: string, keep: string): Result<number, Context>;
    /** cut-submit-rate-1.lua */
    renderqCutSubmitRate(budget: string, ...args: string[]): Result<[rate: string, holdUntilMs: number], Context>;
    /** commit-bulk-step-3.lua: 1 when the step is recorded, 0 when the lease or the list's head was not ours. */
    renderqCommitBulkStep(
      operation: string,
      targets: string,
      lease: string,
      owner: string,
      leaseMs: number,
      acted: number,
      skipped: number,
      reservedMicros: number,
      ...ids: string[]
    ): Result<number, Context>;
    /** request-bulk-abort-1.lua: 1 asked, 0 already ended or asked, -1 no such operation. */
    renderqRequestBulkAbort(operation: string): Result<number, Context>;
    /** submit-breaker-1.lua: the verdict and a time or wait in ms (see the script's header). */
    renderqSubmitBreaker(breaker: string, ...args: string[]): Result<[verdict: number, ms: number], Context>;
    /** take-over-claim-1.lua */
    renderqTakeOverClaim(claim: string, previous: string, next: string, ttlSeconds: string): Result<number, Context>;
  }
}

/** Lua generated from the job store's TypeScript, put ahead of the job scripts. */
export interface JobLua {
  /** STATUS, FINAL, MOVES, FOLLOWS_REQUEST and MAYBE_BILLED: the lifecycle's tables (jobs/lifecycle-lua.ts). */
  readonly lifecycle: string;
  /** PIECE_BYTES, MAX_PIECED_BYTES and PIECED: how a record keeps long values (jobs/record-hash.ts). */
  readonly recordLayout: string;
}

interface ScriptFile {
  readonly file: string;
  /** Fixed key count; unset: the caller gives it first (scripts whose key count varies). */
  readonly numberOfKeys?: number;
  /** Lua put ahead of the file's source. */
  readonly prelude?: () => string;
  /** Lua put ahead of the file's source, made with the job store's (only the job store defines these). */
  readonly jobPrelude?: (jobs: JobLua) => string;
}

const readLua = (file: string) => readFileSync(new URL(`./lua/${file}`, import.meta.url), 'utf8');

/** getLong and setLong: a job record's long values, kept in pieces. */
const longValues = (jobs: JobLua) => jobs.recordLayout + readLua('prelude/long-values.lua');

/** The Segmind submit budget's rate, shared by its two scripts. */
const submitRate = () => readLua('prelude/submit-rate.lua');

/** A tenant's spend ledger: reservations and settled spend, by day and month. */
const spendLedger = () => readLua('prelude/spend-ledger.lua');

/** How an open admission claim is written. */
const admissionClaims = () => readLua('prelude/admission-claims.lua');

/** recordEvent: a webhook event with its outbox and pending entries. */
const webhookEvents = () => readLua('prelude/webhook-events.lua');

/** The scripts by command name (each a method of a connection once defined). */
const SCRIPTS = {
  renderqTransitionJob: {
    file: 'transition-job-10-or-14.lua',
    jobPrelude: (jobs) => jobs.lifecycle + longValues(jobs) + spendLedger() + webhookEvents(),
  },
  renderqCreateJobs: { file: 'create-jobs-n.lua', prelude: () => spendLedger() + admissionClaims() },
  renderqEnterFairQueue: { file: 'enter-fair-queue-n.lua' },
  renderqReleaseFairShare: { file: 'release-fair-share-n.lua' },
  renderqClaimAdmission: {
    file: 'claim-admission-7.lua',
    numberOfKeys: 7,
    prelude: () => admissionClaims() + webhookEvents(),
  },
  renderqDropUncommittedJob: { file: 'drop-uncommitted-job-4.lua', numberOfKeys: 4, prelude: spendLedger },
  renderqFollowCancelled: { file: 'follow-cancelled-2.lua', numberOfKeys: 2, jobPrelude: longValues },
  renderqSettleCancelled: {
    file: 'settle-cancelled-3-or-4.lua',
    jobPrelude: (jobs) => longValues(jobs) + spendLedger(),
  },
  renderqGetOwned: { file: 'get-owned-1.lua', numberOfKeys: 1 },
  renderqCancelBatch: { file: 'cancel-batch-1.lua', numberOfKeys: 1 },
  renderqRedeliverEvent: { file: 'redeliver-event-2.lua', numberOfKeys: 2 },
  renderqRecordAttempt: { file: 'record-attempt-3-or-4.lua' },
  renderqTakeEnqueueTokens: { file: 'take-enqueue-tokens-1.lua', numberOfKeys: 1 },
  renderqTakeOverClaim: { file: 'take-over-claim-1.lua', numberOfKeys: 1 },
  renderqDrawSubmitSlot: { file: 'draw-submit-slot-1.lua', numberOfKeys: 1, prelude: submitRate },
  renderqCountAcceptedSubmit: { file: 'count-accepted-submit-1.lua', numberOfKeys: 1 },
  renderqCutSubmitRate: { file: 'cut-submit-rate-1.lua', numberOfKeys: 1, prelude: submitRate },
  renderqSubmitBreaker: { file: 'submit-breaker-1.lua', numberOfKeys: 1 },
  renderqCommitBulkStep: { file: 'commit-bulk-step-3.lua', numberOfKeys: 3 },
  renderqRequestBulkAbort: { file: 'request-bulk-abort-1.lua', numberOfKeys: 1 },
} as const satisfies Record<string, ScriptFile>;

export type ScriptName = keyof typeof SCRIPTS;

/** Every script's file name in ./lua, as registered (docs/architecture.md's script table lists them). */
export const SCRIPT_FILES: readonly string[] = Object.values(SCRIPTS).map((script: ScriptFile) => script.file);

const sources = new Map<ScriptName, string>();

/**
 * A script's full source: its prelude, if any, then its file. Read once per process. The job
 * scripts need the job store's Lua; without it, asking for one throws.
 */
export function scriptSource(name: ScriptName, jobs?: JobLua): string {
  let source = sources.get(name);
  if (source === undefined) {
    const script: ScriptFile = SCRIPTS[name];
    let prelude = script.prelude?.() ?? '';
    if (script.jobPrelude) {
      if (!jobs) throw new Error(`script ${name} needs the job store's Lua (JobLua)`);
      prelude = script.jobPrelude(jobs);
    }
    source = prelude + readLua(script.file);
    sources.set(name, source);
  }
  return source;
}

/**
 * Defines the scripts on a connection (once; later calls do nothing). The job scripts are
 * defined only when given the job store's Lua: the job store does, and nothing else runs them.
 */
export function defineScripts(redis: RedisConnection, jobs?: JobLua): void {
  for (const name of Object.keys(SCRIPTS) as ScriptName[]) {
    if (name in redis) continue;
    const script: ScriptFile = SCRIPTS[name];
    if (script.jobPrelude && !jobs) continue;
    redis.defineCommand(name, {
      lua: scriptSource(name, jobs),
      ...(script.numberOfKeys === undefined ? {} : { numberOfKeys: script.numberOfKeys }),
    });
  }
}
