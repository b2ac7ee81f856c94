/** What the API says about the service itself: its models, whether taking jobs is paused and why, its queues. */
import { z } from 'zod';

export const Model = z.object({
  name: z.string(),
  title: z.string(),
  kind: z.enum(['text-to-image', 'image-to-image']),
  price_usd: z
    .number()
    .describe("USD per image a job reserves against its tenant's spend budget until Segmind says what it cost."),
  /** The JSON Schema of the model's `input`. */
  input_schema: z.record(z.string(), z.unknown()),
});
export type Model = z.infer<typeof Model>;

/**
 * Why workers stopped taking jobs: Segmind refused the key, the account ran out of credits,
 * Segmind is rate-limiting, or an operator paused.
 */
export const PauseReason = z.enum(['unauthorized', 'out_of_credits', 'rate_limited', 'operator']);
export type PauseReason = z.infer<typeof PauseReason>;

export const PauseState = z.object({
  paused: z.boolean(),
  reason: PauseReason.optional(),
  message: z.string().optional(),
  since: z.string().optional(),
});
export type PauseState = z.infer<typeof PauseState>;

/** Whether storage takes writes, as this API process last checked; the problem names the setting to fix. */
const StorageState = z.object({
  usable: z.boolean(),
  problem: z.string().nullable(),
});

/**
 * A Segmind outage the workers' breaker holds submits for: most submits were answered 5xx or
 * not answered at connect. Jobs wait without spending attempts; one probe at a time tries again.
 */
export const SegmindOutage = z.object({
  since: z.string().describe('When the breaker opened.'),
  next_probe_at: z.string().describe('When the next submit may try Segmind again (the hold doubles, up to 30 s).'),
  message: z.string().describe("The last failed submit's answer."),
});
export type SegmindOutage = z.infer<typeof SegmindOutage>;

/**
 * What an operator sees of the whole service: the pause, a Segmind outage being waited out,
 * storage, queue depths by state, the last known balance.
 */
export const AdminStatus = z.object({
  pause: PauseState,
  segmind_outage: SegmindOutage.nullable(),
  storage: StorageState,
  queues: z
    .record(z.string(), z.record(z.string(), z.number()))
    .describe(
      "Jobs by state in each queue: render (with `fair_share`, its jobs still waiting for their tenant's fair share), poll, and webhooks when webhooks are on (WEBHOOK_SECRET).",
    ),
  credits: z.object({ balance: z.number(), observed_at: z.string() }).nullable(),
});
export type AdminStatus = z.infer<typeof AdminStatus>;
