/**
 * A batch's jobs checked one by one, each against its model's schema and every URL it
 * would call (its own and the batch's webhook) against the URL guard, so that one answer
 * lists every wrong job: by its index in a JSON batch, by its line in an NDJSON one.
 */
import type { ProblemIssue } from '@renderq/contract';
import { type NewJob, type ValidationIssue, validateModelInput } from '@renderq/shared';
import type { ApiContext } from '../api-context.js';
import type { BatchBody } from '../http/batch-body.js';
import { urlsOfJob } from './url-guard.js';

export interface CheckedBatch {
  /** The jobs to create, inputs with their defaults; complete only when `issues` is empty. */
  readonly jobs: NewJob[];
  readonly issues: ProblemIssue[];
}

export async function checkBatchJobs(ctx: ApiContext, tenant: string, batch: BatchBody): Promise<CheckedBatch> {
  const jobs: NewJob[] = [];
  const issues: ProblemIssue[] = [];
  issues.push(...(await ctx.urlGuard.check(urlsOfJob({}, batch.webhook_url))));
  for (const [position, entry] of batch.jobs.entries()) {
    const where = batch.format === 'ndjson' ? { line: position + 1 } : { index: position };
    const placed = (found: readonly ValidationIssue[]) => found.map((issue) => ({ ...where, ...issue }));
    if ('issues' in entry) {
      issues.push(...placed(entry.issues));
      continue;
    }
    const validated = validateModelInput(entry.model, entry.input, { allowUnknown: ctx.config.models.allowUnknown });
    if (!validated.ok) {
      issues.push(...placed(validated.issues));
      continue;
    }
    issues.push(...placed(await ctx.urlGuard.check(urlsOfJob(validated.input, undefined))));
    jobs.push({ tenant, model: validated.model, input: validated.input, metadata: entry.metadata ?? null });
  }
  return { jobs, issues };
}
