/** An error answer of the API, as application/problem+json (RFC 9457). */
import { z } from 'zod';

export const Problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number(),
    detail: z.string(),
    errors: z
      .array(
        z.object({
          index: z.number().optional().describe('Batch (JSON): the job, 0-based.'),
          line: z.number().optional().describe('Batch (NDJSON): the line, 1-based.'),
          path: z.string(),
          message: z.string(),
        }),
      )
      .optional(),
  })
  .describe('An error, as application/problem+json (RFC 9457).');
export type Problem = z.infer<typeof Problem>;
