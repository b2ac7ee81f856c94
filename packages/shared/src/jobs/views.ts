/**
 * The public shapes of jobs and batches (docs/api.md) as the API answers them and
 * webhooks carry them, with key-free links to the outputs.
 */
import type { Batch } from '@renderq/client';
import type { OutputLinks } from '../storage/output-links.js';
import { type JobRecord, type PublicJob, toPublicJob } from './job-record.js';
import type { BatchRecord } from './job-store.js';

export async function publicJob(record: JobRecord, links: OutputLinks): Promise<PublicJob> {
  const urls = new Map(
    await Promise.all(
      record.outputs.map(async (output) => [output.index, await links.url(record.id, output)] as const),
    ),
  );
  return toPublicJob(record, (output) => urls.get(output.index) ?? '');
}

/** The public batch: the client's type. */
export type PublicBatch = Batch;

export function publicBatch(batch: BatchRecord): PublicBatch {
  const { id, status, metadata, counts, created_at, finished_at } = batch;
  return { id, status, metadata, counts, created_at, finished_at };
}
