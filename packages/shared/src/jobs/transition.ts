/**
 * Moving a job between stages: only by a move declared in lifecycle.ts, atomically with
 * its batch's counters, its tenant's spend, its change events and the webhook events a final
 * move causes (transition-job-10-or-14.lua).
 */
import { randomUUID } from 'node:crypto';
import { type FinishedStatus, isFinishedStatus, type JobError } from '@renderq/contract';
import {
  batchEventsKey,
  batchJobsKey,
  batchKey,
  eventKey,
  eventOutboxKey,
  fairReadyKey,
  jobChangesChannel,
  jobEventsKey,
  jobKey,
  pendingEventsKey,
  requestsAtSegmindKey,
  tenantBacklogKey,
  tenantSpendKey,
  unfinishedJobsKey,
} from '../redis/keys.js';
import type { StoredOutput } from '../storage/stored-objects.js';
import { eventIdFor, jobEventType } from '../webhooks/events.js';
import { type Move, type MoveName, type MoveTarget, TRANSITIONS } from './lifecycle.js';
import { isFinal, type JobStage, STATUS_OF_STAGE, type StageName } from './stage.js';
import type { StoreContext } from './store-context.js';

/** What a stage move may change besides the stage. */
export interface JobChanges {
  readonly segmind_request_id?: string;
  readonly outputs?: readonly StoredOutput[];
  readonly error?: JobError;
  readonly cost?: number;
}

export type TransitionResult =
  | {
      readonly ok: true;
      readonly previous: StageName;
      readonly batchFinished: boolean;
      /** Webhook events the move recorded (already on their way to the webhooks queue). */
      readonly events: readonly string[];
    }
  | { readonly ok: false; readonly reason: 'not_found' }
  | { readonly ok: false; readonly reason: 'wrong_stage'; readonly current: StageName }
  /** A move fenced by its submit, refused: the job is in another submit than the caller's record shows. */
  | { readonly ok: false; readonly reason: 'other_submit'; readonly current: StageName };

/**
 * A job to move: its id, or its record in hand (which saves reading its batch first). A move fenced by
 * its submit is made only while the job is still in the submit of the record's `stage`; by id alone
 * (tools, tests) it is not fenced.
 */
export type JobRef =
  | string
  | { readonly id: string; readonly batch_id: string | null; readonly tenant: string; readonly stage?: JobStage };

/** The stage a move ends in, with its data. */
export type StageOfMove<M extends MoveName> = JobStage & { readonly name: MoveTarget<M> };

/**
 * Moves a job by `move` if its stage is one the move starts from, atomically with its
 * batch's counters. A final stage stamps `finished_at` and starts the record's retention.
 * A move not in TRANSITIONS, or to another stage than the move's, is refused (thrown).
 */
export async function transition<M extends MoveName>(
  ctx: StoreContext,
  job: JobRef,
  move: M,
  to: StageOfMove<M>,
  changes: JobChanges,
  token: string = randomUUID(),
): Promise<TransitionResult> {
  const declared = Object.hasOwn(TRANSITIONS, move) ? TRANSITIONS[move] : undefined;
  if (!declared) throw new Error(`no move named ${String(move)} in the lifecycle`);
  if (declared.to !== to.name) throw new Error(`move ${move} goes to ${declared.to}, not ${to.name}`);
  const { redis, prefix } = ctx;
  const id = typeof job === 'string' ? job : job.id;
  // A job's batch and tenant are fixed when it is created: read only when the caller has no record in hand.
  const [batchId, tenant] =
    typeof job === 'string' ? await redis.hmget(jobKey(prefix, id), 'batch_id', 'tenant') : [job.batch_id, job.tenant];
  const jobEvent = isFinal(to.name) ? eventIdFor(id, jobEventType(finalName(to.name))) : '';
  const batchEvent = batchId ? eventIdFor(batchId, 'batch.completed') : '';
  const keys = [
    jobKey(prefix, id),
    unfinishedJobsKey(prefix),
    eventOutboxKey(prefix),
    pendingEventsKey(prefix),
    jobEvent ? eventKey(prefix, jobEvent) : jobKey(prefix, id),
    tenantBacklogKey(prefix, tenant ?? ''),
    fairReadyKey(prefix, tenant ?? ''),
    tenantSpendKey(prefix, tenant ?? ''),
    jobEventsKey(prefix, id),
    requestsAtSegmindKey(prefix),
    ...(batchId
      ? [
          batchKey(prefix, batchId),
          batchJobsKey(prefix, batchId),
          eventKey(prefix, batchEvent),
          batchEventsKey(prefix, batchId),
        ]
      : []),
  ];
  const target: JobStage = to;
  const now = Date.now();
  const [code, stage, batchFinished, created] = await redis.renderqTransitionJob(
    keys.length,
    ...keys,
    move,
    JSON.stringify(to),
    new Date(now).toISOString(),
    String(ctx.retentionMs),
    String(now),
    token,
    ctx.events ? '1' : '0',
    jobEvent,
    batchEvent,
    jobChangesChannel(prefix),
    submitFence(job, move),
    // A failed stage carries its error; the record's `error` field is what callers see.
    ...changeFields(target.name === 'failed' ? { ...changes, error: target.error } : changes),
  );
  if (code === -1) return { ok: false, reason: 'not_found' };
  if (code === 0) return { ok: false, reason: 'wrong_stage', current: stageName(stage) };
  if (code === -2) return { ok: false, reason: 'other_submit', current: stageName(stage) };
  const events = created ? created.split(',') : [];
  if (events.length > 0) await ctx.events?.publish(events);
  return { ok: true, previous: stageName(stage), batchFinished: batchFinished === 1, events };
}

/**
 * What the transition script checks a move fenced by its submit against: `=` and the submit id of the
 * record in hand ('=' alone for a submit that has none); '' for a move not fenced, or a job given by id.
 */
function submitFence(job: JobRef, move: MoveName): string {
  const declared: Move = TRANSITIONS[move];
  if (!declared.fencedBySubmit || typeof job === 'string' || job.stage === undefined) return '';
  // Only a record in its submit can speak for it: any other would fence on a submit it never saw.
  if (job.stage.name !== 'submitting') throw new Error(`move ${move} is made from a submit, not ${job.stage.name}`);
  return `=${job.stage.submit_id ?? ''}`;
}

function finalName(stage: StageName): FinishedStatus {
  const status = STATUS_OF_STAGE[stage];
  if (isFinishedStatus(status)) return status;
  throw new Error(`${stage} is not final`);
}

function stageName(stage: string): StageName {
  if (Object.hasOwn(STATUS_OF_STAGE, stage)) return stage as StageName;
  throw new Error(`unknown stage ${stage} in a job record`);
}

function changeFields(changes: JobChanges): string[] {
  const fields: string[] = [];
  if (changes.segmind_request_id !== undefined) fields.push('segmind_request_id', changes.segmind_request_id);
  if (changes.outputs !== undefined) fields.push('outputs', JSON.stringify(changes.outputs));
  if (changes.error !== undefined) fields.push('error', JSON.stringify(changes.error));
  if (changes.cost !== undefined) fields.push('cost', String(changes.cost));
  return fields;
}
