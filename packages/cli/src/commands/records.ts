/** A job or a batch by its id: read it, follow it, say how it ended. */
import type { Batch, Job } from '@renderq/client';
import { type CommandContext, followOptions, type WaitFlags } from '../context.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { followBatch, followJob, type Source } from '../follow.js';
import { batchLines, jobLines } from '../format.js';
import { kindOfId } from '../ids.js';

export type JobOrBatch = { readonly job: Job } | { readonly batch: Batch };

export async function readRecord(context: CommandContext, id: string): Promise<JobOrBatch> {
  return kindOfId(id) === 'job'
    ? { job: await context.client.getJob(id) }
    : { batch: await context.client.getBatch(id) };
}

export function followRecord(
  context: CommandContext,
  id: string,
  flags: WaitFlags,
  source: Source = 'poll',
): Promise<JobOrBatch> {
  const options = followOptions(context, flags);
  return context.following(async () =>
    kindOfId(id) === 'job'
      ? { job: await followJob(context.client, context.output, id, options, source) }
      : { batch: await followBatch(context.client, context.output, id, options, source) },
  );
}

/** 0 when the job completed or every job of the batch did; 1 otherwise. */
export function exitCodeOf(record: JobOrBatch): ExitCode {
  if ('job' in record) return record.job.status === 'completed' ? EXIT.ok : EXIT.notCompleted;
  const { total, completed } = record.batch.counts;
  return record.batch.finished_at !== null && completed === total ? EXIT.ok : EXIT.notCompleted;
}

export function recordLines(context: CommandContext, record: JobOrBatch): string[] {
  return 'job' in record ? jobLines(context.output, record.job) : batchLines(context.output, record.batch);
}
