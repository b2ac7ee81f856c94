/** Segmind's v2 answers as zod schemas: tolerant of extra fields, strict on what renderq relies on. */
import { z } from 'zod';

export const SubmitAnswer = z.looseObject({
  request_id: z.string().min(1),
  status_url: z.url(),
  response_url: z.url(),
});
export type SubmitAnswer = z.infer<typeof SubmitAnswer>;

const SegmindMetrics = z
  .looseObject({
    cost: z.number().optional(),
    remaining_credits: z.number().optional(),
    inference_time: z.number().optional(),
    queue_time: z.number().optional(),
    total_time: z.number().optional(),
  })
  .optional();

export const StatusAnswer = z.looseObject({
  status: z.enum(['QUEUED', 'PROCESSING', 'COMPLETED', 'FAILED']),
  error: z.unknown().optional(),
  metrics: SegmindMetrics,
});
export type StatusAnswer = z.infer<typeof StatusAnswer>;

export const ResultAnswer = z.looseObject({
  status: z.enum(['QUEUED', 'PROCESSING', 'COMPLETED', 'FAILED']),
  output: z.unknown().optional(),
  images: z.array(z.looseObject({ url: z.string().optional() })).optional(),
  error: z.unknown().optional(),
  metrics: SegmindMetrics,
});
export type ResultAnswer = z.infer<typeof ResultAnswer>;

export const CreditsAnswer = z.looseObject({ credits: z.number() });
