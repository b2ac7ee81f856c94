/**
 * `renderq list`: jobs, newest first, filtered as the API filters them: up to
 * `--limit` of them (pages are followed until that many are found, since a page
 * may come back short), or every one with `--all`.
 */
import type { Job, JobFilters, JobStatus } from '@renderq/client';
import type { Action } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { table } from '../format.js';

/** Jobs shown without --limit (the API's own page size). */
const DEFAULT_LIMIT = 100;

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
      // Passed as given: the API answers a status it does not know with a 400 naming query.status.
      ...(flags.status !== undefined ? { status: flags.status as JobStatus } : {}),
      ...(flags.model !== undefined ? { model: flags.model } : {}),
      ...(flags.batch !== undefined ? { batch_id: flags.batch } : {}),
      ...(flags.createdAfter !== undefined ? { created_after: flags.createdAfter } : {}),
      ...(flags.createdBefore !== undefined ? { created_before: flags.createdBefore } : {}),
    };
    const limit = flags.limit ?? DEFAULT_LIMIT;
    const jobs: Job[] = [];
    let nextCursor: string | null | undefined = flags.cursor;
    do {
      // With --all, pages of `limit`; without, only as many as are still missing.
      const page = await context.client.listJobs({
        ...filters,
        limit: flags.all ? limit : limit - jobs.length,
        ...(nextCursor ? { cursor: nextCursor } : {}),
      });
      jobs.push(...page.jobs);
      nextCursor = page.next_cursor;
    } while (nextCursor && (flags.all || jobs.length < limit));
    context.output.result({ jobs, next_cursor: nextCursor }, () => {
      if (jobs.length === 0) return 'no jobs';
      return table(
        ['id', 'status', 'model', 'created', 'batch'],
        jobs.map((job) => [job.id, context.output.status(job.status), job.model, job.created_at, job.batch_id ?? '']),
      );
    });
    if (nextCursor) context.output.note(`more: the same command with --cursor ${nextCursor} (or --all)`);
    return EXIT.ok;
  };
}
