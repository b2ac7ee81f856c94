/**
 * Reads a batch sent as JSON (`{jobs, webhook_url?, …}`; fastify has parsed it, within the
 * route's body limit): checked whole against BatchRequest, any wrong field refusing the
 * batch, a field inside a job named by the job's index.
 */
import { MAX_BATCH_JOBS } from '@renderq/contract';
import { fieldIssues, formatPath, parseWithMessages } from '@renderq/shared';
import { Problem } from './problems.js';
import { BatchRequest } from './schemas.js';

export function readJsonBatch(body: unknown): BatchRequest {
  // Counted before the schema copies every entry: a body of tiny jobs holds hundreds of thousands.
  const jobs = (body as { jobs?: unknown } | null)?.jobs;
  if (Array.isArray(jobs) && jobs.length > MAX_BATCH_JOBS) {
    throw new Problem('payload_too_large', `a batch holds at most ${MAX_BATCH_JOBS} jobs (got ${jobs.length})`);
  }
  const parsed = parseWithMessages(BatchRequest, body);
  if (!parsed.success) {
    // Errors inside one job name it by index, the field relative to the job; the rest are the batch's own.
    const issues = fieldIssues(parsed.error).map((issue) => {
      const [head, index, ...rest] = issue.segments;
      return head === 'jobs' && typeof index === 'number'
        ? { index, path: formatPath(rest), message: issue.message }
        : { path: formatPath(issue.segments), message: issue.message };
    });
    throw new Problem('validation_failed', 'the batch is not valid', issues);
  }
  return parsed.data;
}
