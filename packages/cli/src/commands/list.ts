/**
 * `renderq list`: jobs, newest first, filtered as the API filters them; one page
 * (`--limit`, `--cursor`), or every page with `--all`.
 */
import type { Job } from '@renderq/client';
import type { Action } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { table } from '../format.js';
import { type JobFilters, jobPages } from '../job-list.js';

export interface ListFlags {
  readonly status?: string;
  readonly model?: string;
  readonly batch?: string;
  readonly createdAfter?: string;
  readonly createdBefore?: string;
  readonly limit?: number;
  readonly cursor?: string;
  readonly all?: boolean;
}

export function listCommand(flags: ListFlags): Action {
  return async (context) => {
    const filters: JobFilters = {
      ...(flags.status !== undefined ? { status: flags.status } : {}),
      ...(flags.model !== undefined ? { model: flags.model } : {}),
      ...(flags.batch !== undefined ? { batch_id: flags.batch } : {}),
      ...(flags.createdAfter !== undefined ? { created_after: flags.createdAfter } : {}),
      ...(flags.createdBefore !== undefined ? { created_before: flags.createdBefore } : {}),
      ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
      ...(flags.cursor !== undefined ? { cursor: flags.cursor } : {}),
    };
    const jobs: Job[] = [];
    let nextCursor: string | null = null;
    for await (const page of jobPages(context.client, context.target, filters)) {
      jobs.push(...page.jobs);
      nextCursor = page.next_cursor;
      if (!flags.all) break;
    }
    context.output.result({ jobs, next_cursor: nextCursor }, () => {
      if (jobs.length === 0) return 'no jobs';
      return table(
        ['id', 'status', 'model', 'created', 'batch'],
        jobs.map((job) => [job.id, context.output.status(job.status), job.model, job.created_at, job.batch_id ?? '']),
      );
    });
    if (nextCursor) context.output.note(`more: renderq list --cursor ${nextCursor} (or --all)`);
    return EXIT.ok;
  };
}
