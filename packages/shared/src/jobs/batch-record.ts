/**
 * A batch as the Redis hash it is kept in, parsed at the edge: the hash's fields are
 * checked with a zod schema (counters as numbers, `cost` absent until a job has one)
 * before they become a BatchRecord.
 */

import type { JobStatus } from '@renderq/contract';
import { BatchStatus, WebhookEventType } from '@renderq/contract';
import { z } from 'zod';

export interface BatchRecord {
  readonly id: string;
  readonly tenant: string;
  readonly status: BatchStatus;
  readonly metadata: Record<string, unknown> | null;
  readonly webhook_url: string | null;
  readonly webhook_events: readonly WebhookEventType[] | null;
  readonly counts: Readonly<Record<JobStatus, number>> & { readonly total: number };
  /** Segmind credits its jobs have cost so far; null until one is known. */
  readonly cost: number | null;
  readonly created_at: string;
  readonly finished_at: string | null;
  /** The `traceparent` of the request that created it; null: not traced. */
  readonly trace_parent: string | null;
}

const count = z.coerce.number().int().default(0);
const json = z.string().transform((text, ctx) => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    ctx.addIssue({ code: 'custom', message: 'not JSON' });
    return z.NEVER;
  }
});

/** The batch hash as written by createBatch and kept by the transition script. */
const BatchHash = z.object({
  id: z.string().min(1),
  tenant: z.string(),
  status: BatchStatus.default('running'),
  metadata: json.pipe(z.record(z.string(), z.unknown()).nullable()).default(null),
  webhook_url: z.string().default(''),
  webhook_events: z
    .string()
    .default('')
    .transform((list) => (list === '' ? null : list.split(',')))
    .pipe(z.array(WebhookEventType).nullable()),
  total: count,
  queued: count,
  running: count,
  completed: count,
  failed: count,
  cancelled: count,
  expired: count,
  cost: z.string().optional(),
  created_at: z.string().default(''),
  finished_at: z.string().default(''),
  trace_parent: z.string().default(''),
});

/**
 * The transition script marks a finished batch `completed`; one whose jobs all failed or expired
 * (none completed) is `failed` — derived here, where every view of a batch is read.
 */
function batchStatus(hash: z.infer<typeof BatchHash>): BatchStatus {
  const noneCompleted = hash.completed === 0 && hash.failed + hash.expired > 0;
  return hash.status === 'completed' && noneCompleted ? 'failed' : hash.status;
}

export function batchFromHash(hash: Record<string, string>): BatchRecord {
  const parsed = BatchHash.parse(hash);
  return {
    id: parsed.id,
    tenant: parsed.tenant,
    status: batchStatus(parsed),
    metadata: parsed.metadata,
    webhook_url: parsed.webhook_url || null,
    webhook_events: parsed.webhook_events,
    counts: {
      total: parsed.total,
      queued: parsed.queued,
      running: parsed.running,
      completed: parsed.completed,
      failed: parsed.failed,
      cancelled: parsed.cancelled,
      expired: parsed.expired,
    },
    cost: parsed.cost ? roundCredits(Number(parsed.cost)) : null,
    created_at: parsed.created_at,
    finished_at: parsed.finished_at || null,
    trace_parent: parsed.trace_parent || null,
  };
}

/** A sum of credits without the float noise of adding many decimals (Segmind prices to far fewer places). */
function roundCredits(value: number): number {
  return Math.round(value * 1e9) / 1e9;
}
