/**
 * `pnpm emulator`'s configuration: EMULATOR_* environment variables, or the same
 * settings as flags (`--failure-rate=0.1` is EMULATOR_FAILURE_RATE=0.1). Parsed
 * once, with one line naming a bad value.
 */
import { z } from 'zod';
import type { EmulatorOptions } from './emulator.js';

const number = (name: string) =>
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value === '') return undefined;
      const n = Number(value);
      if (!Number.isFinite(n)) {
        ctx.addIssue({ code: 'custom', message: `${name} must be a number (got "${value}")` });
        return z.NEVER;
      }
      return n;
    });

const EmulatorEnv = z.object({
  EMULATOR_PORT: number('EMULATOR_PORT'),
  EMULATOR_HOST: z.string().optional(),
  EMULATOR_PUBLIC_URL: z.url().optional(),
  /** Comma-separated keys accepted as x-api-key. */
  EMULATOR_API_KEYS: z.string().optional(),
  EMULATOR_CREDITS: number('EMULATOR_CREDITS'),
  EMULATOR_FAILURE_RATE: number('EMULATOR_FAILURE_RATE'),
  EMULATOR_SUBMIT_ERROR_RATE: number('EMULATOR_SUBMIT_ERROR_RATE'),
  EMULATOR_STATUS_ERROR_RATE: number('EMULATOR_STATUS_ERROR_RATE'),
  EMULATOR_RESULT_ERROR_RATE: number('EMULATOR_RESULT_ERROR_RATE'),
  /** "MAX/WINDOW_MS", for example 10/1000. */
  EMULATOR_SUBMIT_RATE_LIMIT: z
    .string()
    .regex(/^\d+\/\d+$/, 'EMULATOR_SUBMIT_RATE_LIMIT must be MAX/WINDOW_MS, for example 10/1000')
    .optional(),
  EMULATOR_RESULT_TTL_SECONDS: number('EMULATOR_RESULT_TTL_SECONDS'),
  EMULATOR_SUBMIT_DELAY_MS: number('EMULATOR_SUBMIT_DELAY_MS'),
  EMULATOR_DROP_AFTER_SUBMIT_RATE: number('EMULATOR_DROP_AFTER_SUBMIT_RATE'),
  EMULATOR_LATENCY_SCALE: number('EMULATOR_LATENCY_SCALE'),
  EMULATOR_LATENCY_JITTER: number('EMULATOR_LATENCY_JITTER'),
  EMULATOR_GPUS: number('EMULATOR_GPUS'),
  /** A directory to keep the requests in across restarts; unset: in memory only. */
  EMULATOR_DATA_DIR: z.string().min(1, 'EMULATOR_DATA_DIR must name a directory').optional(),
  /** "true": one image per size and format, served from memory (benchmarks). */
  EMULATOR_FIXED_IMAGES: z.enum(['true', 'false']).optional(),
});

/** `--failure-rate=0.1` → EMULATOR_FAILURE_RATE=0.1. */
export function flagsToEnv(argv: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const arg of argv) {
    const match = /^--([a-z-]+)=(.*)$/.exec(arg);
    if (!match) throw new Error(`unrecognised argument "${arg}": flags look like --failure-rate=0.1`);
    env[`EMULATOR_${(match[1] as string).replaceAll('-', '_').toUpperCase()}`] = match[2] as string;
  }
  return env;
}

export function emulatorOptionsFrom(env: Readonly<Record<string, string | undefined>>): EmulatorOptions {
  const unknown = Object.keys(env).filter((key) => key.startsWith('EMULATOR_') && !(key in EmulatorEnv.shape));
  if (unknown.length > 0) throw new Error(`unknown setting ${unknown.join(', ')}`);
  const parsed = EmulatorEnv.safeParse(env);
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => i.message).join('; '));
  const e = parsed.data;
  const [max, windowMs] = e.EMULATOR_SUBMIT_RATE_LIMIT?.split('/').map(Number) ?? [];
  const defined = <T extends object>(value: T) =>
    Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
  return defined({
    port: e.EMULATOR_PORT ?? 8790,
    host: e.EMULATOR_HOST,
    publicUrl: e.EMULATOR_PUBLIC_URL,
    apiKeys: e.EMULATOR_API_KEYS?.split(',')
      .map((key) => key.trim())
      .filter(Boolean),
    credits: e.EMULATOR_CREDITS,
    failureRate: e.EMULATOR_FAILURE_RATE,
    serverErrorRate: defined({
      submit: e.EMULATOR_SUBMIT_ERROR_RATE,
      status: e.EMULATOR_STATUS_ERROR_RATE,
      result: e.EMULATOR_RESULT_ERROR_RATE,
    }),
    submitRateLimit: max && windowMs ? { max, windowMs } : undefined,
    resultTtlMs: e.EMULATOR_RESULT_TTL_SECONDS === undefined ? undefined : e.EMULATOR_RESULT_TTL_SECONDS * 1000,
    submitDelayMs: e.EMULATOR_SUBMIT_DELAY_MS,
    dropAfterSubmitRate: e.EMULATOR_DROP_AFTER_SUBMIT_RATE,
    latencyScale: e.EMULATOR_LATENCY_SCALE,
    latencyJitter: e.EMULATOR_LATENCY_JITTER,
    gpusPerModel: e.EMULATOR_GPUS,
    dataDir: e.EMULATOR_DATA_DIR,
    fixedImages: e.EMULATOR_FIXED_IMAGES === undefined ? undefined : e.EMULATOR_FIXED_IMAGES === 'true',
  }) as EmulatorOptions;
}
