/**
 * The emulator's run-time settings: fault injection and the service model. One zod
 * schema serves the environment/flags at start and the admin API at run time, so
 * a setting means the same wherever it is given.
 */
import { z } from 'zod';

const share = z.number().min(0).max(1);

/**
 * Segmind's submit limit, and the ways its windows may behave; each part a setting, so that
 * renderq's rate budget can be tried against all of them.
 */
const SubmitRateLimit = z.object({
  /** Submits a window allows (renderq's and the other client's together). */
  max: z.number().int().min(1),
  windowMs: z.number().int().min(1),
  /**
   * How windows are cut: from the first submit after the last window ended, or on clock
   * boundaries (multiples of the window since the epoch). @defaultValue 'first-request'
   */
  windows: z.enum(['first-request', 'clock']).default('first-request'),
  /**
   * The 429's reset header names the window's end plus a delay drawn evenly from this range: a
   * reset that says when, not how the windows are cut. @defaultValue { min: 0, max: 0 }
   */
  resetLateMs: z
    .object({ min: z.number().int().min(0), max: z.number().int().min(0) })
    .refine((range) => range.min <= range.max, 'resetLateMs.min must not exceed resetLateMs.max')
    .default({ min: 0, max: 0 }),
  /**
   * Share of every window taken by another client on the same key (a second deployment, a
   * script), its submits spread evenly over the window. @defaultValue 0
   */
  otherClientShare: share.default(0),
});

export const FaultSettings = z.object({
  /** Share of requests that end FAILED (HTTP 422 on poll). @defaultValue 0 */
  failureRate: share,
  /** Share of calls answered 500/502/504 instead, per endpoint. @defaultValue 0 each */
  serverErrorRate: z.object({ submit: share, status: share, result: share }),
  /** Submits allowed per window across all keys, and how its windows behave; null: unlimited. @defaultValue null */
  submitRateLimit: SubmitRateLimit.nullable(),
  /** The account's credit balance; completed requests debit it. @defaultValue 1000 */
  credits: z.number().min(0),
  /** How long a finished request's record stays readable, then 404. @defaultValue 3_600_000 */
  resultTtlMs: z.number().int().min(1),
  /** Delay before a submit is answered (the request already exists). @defaultValue 0 */
  submitDelayMs: z.number().int().min(0),
  /** Share of accepted submits whose connection is dropped before the answer (ambiguous). @defaultValue 0 */
  dropAfterSubmitRate: share,
  /** Multiplies every model's latency (0.01 for fast tests). @defaultValue 1 */
  latencyScale: z.number().min(0),
  /** Spread of latency around each model's median (lognormal sigma); 0: fixed. @defaultValue 0.25 */
  latencyJitter: z.number().min(0).max(2),
  /** Simulated GPUs per model; requests wait QUEUED while all are busy. @defaultValue 4 */
  gpusPerModel: z.number().int().min(1),
  /** Models this account may not use (403). @defaultValue [] */
  forbiddenModels: z.array(z.string()),
  /** Models Segmind has retired (410). @defaultValue [] */
  retiredModels: z.array(z.string()),
  /**
   * Benchmark mode: one image drawn per size and format, then served from memory for
   * every request of that size, so the emulator's own cost per request stays out of a
   * benchmark's figures. @defaultValue false
   */
  fixedImages: z.boolean(),
});
export type FaultSettings = z.infer<typeof FaultSettings>;

export const DEFAULT_SETTINGS: FaultSettings = {
  failureRate: 0,
  serverErrorRate: { submit: 0, status: 0, result: 0 },
  submitRateLimit: null,
  credits: 1000,
  resultTtlMs: 3_600_000,
  submitDelayMs: 0,
  dropAfterSubmitRate: 0,
  latencyScale: 1,
  latencyJitter: 0.25,
  gpusPerModel: 4,
  forbiddenModels: [],
  retiredModels: [],
  fixedImages: false,
};

/** A partial update, as the admin API and `configure()` take it. */
export const SettingsPatch = FaultSettings.extend({
  serverErrorRate: FaultSettings.shape.serverErrorRate.partial(),
}).partial();
export type SettingsPatch = z.input<typeof SettingsPatch>;

export function applyPatch(settings: FaultSettings, patch: SettingsPatch): FaultSettings {
  return {
    ...settings,
    ...patch,
    serverErrorRate: { ...settings.serverErrorRate, ...patch.serverErrorRate },
  } as FaultSettings;
}
