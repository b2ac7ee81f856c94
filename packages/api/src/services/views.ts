/** The public shapes of jobs and batches (CONTRACT.md), with key-free output links. */
import { type BatchRecord, type JobRecord, toPublicJob } from '@renderq/shared';
import type { z } from 'zod';
import type { Job } from '../http/schemas.js';
import type { OutputLinks } from './output-links.js';

export type JobView = z.infer<typeof Job>;

export async function jobView(record: JobRecord, links: OutputLinks): Promise<JobView> {
  const urls = new Map(
    await Promise.all(
      record.outputs.map(async (output) => [output.index, await links.url(record.id, output)] as const),
    ),
  );
  // The same shape as the shared PublicJob, whose arrays are readonly.
  return toPublicJob(record, (output) => urls.get(output.index) ?? '') as JobView;
}

export interface PublicBatch {
  readonly id: string;
  readonly status: BatchRecord['status'];
  readonly metadata: Record<string, unknown> | null;
  readonly counts: BatchRecord['counts'];
  readonly created_at: string;
  readonly finished_at: string | null;
}

export function batchView(batch: BatchRecord): PublicBatch {
  const { id, status, metadata, counts, created_at, finished_at } = batch;
  return { id, status, metadata, counts, created_at, finished_at };
}
