/** An error answer of the API, as application/problem+json (RFC 9457). */
import { z } from 'zod';

/** One wrong field; a batch's also names the job it is in, by index (JSON) or line (NDJSON). */
export const ProblemIssue = z.object({
  index: z.number().optional().describe('Batch (JSON): the job, 0-based.'),
  line: z.number().optional().describe('Batch (NDJSON): the line, 1-based.'),
  path: z.string(),
  message: z.string(),
});
export type ProblemIssue = z.infer<typeof ProblemIssue>;

export const Problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number(),
    detail: z.string(),
    errors: z.array(ProblemIssue).optional(),
  })
  .describe('An error, as application/problem+json (RFC 9457).');
export type Problem = z.infer<typeof Problem>;
