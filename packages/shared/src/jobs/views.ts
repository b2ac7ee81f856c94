/**
 * The public shapes of jobs and batches (docs/api.md) as the API answers them and
 * webhooks carry them, with key-free links to the outputs and stored input images.
 */
import type { Batch } from '@renderq/contract';
import type { OutputLinks } from '../storage/output-links.js';
import type { BatchRecord } from './batch-record.js';
import { type JobEstimate, type JobRecord, type PublicJob, toPublicJob } from './job-record.js';

export async function publicJob(record: JobRecord, links: OutputLinks, estimate?: JobEstimate): Promise<PublicJob> {
  const [outputUrls, inputUrls] = await Promise.all([
    Promise.all(record.outputs.map(async (output) => [output.index, await links.url(record.id, output)] as const)),
    Promise.all(record.inputs.map(async (input) => [input.field, await links.inputUrl(record.id, input)] as const)),
  ]);
  const outputs = new Map(outputUrls);
  const inputs = new Map(inputUrls);
  return toPublicJob(
    record,
    (output) => outputs.get(output.index) ?? '',
    (input) => inputs.get(input.field) ?? '',
    estimate,
    links.eventsUrl(record.id),
  );
}

/** The public batch: the contract's type. */
export type PublicBatch = Batch;

export function publicBatch(batch: BatchRecord, links: OutputLinks): PublicBatch {
  const { id, status, metadata, counts, cost, created_at, finished_at } = batch;
  return { id, status, metadata, counts, cost, created_at, finished_at, events_url: links.eventsUrl(id) };
}
