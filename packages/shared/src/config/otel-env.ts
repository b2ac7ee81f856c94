/**
 * The standard OpenTelemetry variables renderq reads for its traces (docs/observability.md),
 * validated with the rest of the environment, and what they add up to: tracing off unless an
 * exporter is named or an OTLP endpoint is set, and OTEL_SDK_DISABLED is not true.
 */
import { z } from 'zod';

const unset = (value: unknown) => (value === '' ? undefined : value);

/** `key=value,key=value` (W3C baggage form, values percent-encoded), as OTEL_RESOURCE_ATTRIBUTES and the headers. */
const keyValueList = z.preprocess(
  unset,
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      const pairs: Record<string, string> = {};
      if (value === undefined) return pairs;
      for (const part of value.split(',')) {
        if (part.trim() === '') continue;
        const at = part.indexOf('=');
        if (at <= 0) {
          ctx.addIssue({
            code: 'custom',
            message: `must be key=value pairs separated by commas (got "${part.trim()}")`,
          });
          return z.NEVER;
        }
        try {
          pairs[decodeURIComponent(part.slice(0, at).trim())] = decodeURIComponent(part.slice(at + 1).trim());
        } catch {
          ctx.addIssue({ code: 'custom', message: `has a badly percent-encoded pair ("${part.trim()}")` });
          return z.NEVER;
        }
      }
      return pairs;
    }),
);

const httpUrl = z.preprocess(
  unset,
  z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
);

const protocol = z.preprocess(
  unset,
  z
    .enum(['http/protobuf', 'http/json'], {
      error: 'must be http/protobuf or http/json (renderq exports OTLP over HTTP; grpc is not supported)',
    })
    .optional(),
);

const wholeNumber = (max: number) =>
  z.preprocess(
    unset,
    z
      .string()
      .regex(/^\d+$/, 'must be a whole number')
      .transform(Number)
      .pipe(z.number().int().min(1).max(max))
      .optional(),
  );

export const OTEL_ENV = {
  /** true: no traces, whatever else is set. @defaultValue false */
  OTEL_SDK_DISABLED: z.preprocess(unset, z.enum(['true', 'false'], { error: 'must be true or false' }).optional()),
  /** otlp, console or none. @defaultValue otlp when an OTLP endpoint is set, else none */
  OTEL_TRACES_EXPORTER: z.preprocess(
    unset,
    z.enum(['otlp', 'console', 'none'], { error: 'must be otlp, console or none' }).optional(),
  ),
  /** The collector's base URL; traces go to its /v1/traces. @defaultValue http://localhost:4318 */
  OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl,
  /** The full URL traces are posted to (wins over OTEL_EXPORTER_OTLP_ENDPOINT). */
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: httpUrl,
  /** @defaultValue http/protobuf */
  OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: protocol,
  /** Headers sent to the collector (an API key…), `key=value,…`. */
  OTEL_EXPORTER_OTLP_HEADERS: keyValueList,
  OTEL_EXPORTER_OTLP_TRACES_HEADERS: keyValueList,
  /** @defaultValue 10000 */
  OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: wholeNumber(600_000),
  /** @defaultValue renderq-api, renderq-worker */
  OTEL_SERVICE_NAME: z.preprocess(unset, z.string().max(200).optional()),
  OTEL_RESOURCE_ATTRIBUTES: keyValueList,
  /** @defaultValue parentbased_always_on */
  OTEL_TRACES_SAMPLER: z.preprocess(
    unset,
    z
      .enum(
        [
          'always_on',
          'always_off',
          'traceidratio',
          'parentbased_always_on',
          'parentbased_always_off',
          'parentbased_traceidratio',
        ],
        {
          error:
            'must be always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio',
        },
      )
      .optional(),
  ),
  /** The ratio of the traceidratio samplers, 0…1. @defaultValue 1 */
  OTEL_TRACES_SAMPLER_ARG: z.preprocess(
    unset,
    z
      .string()
      .transform(Number)
      .pipe(z.number({ error: 'must be a number from 0 to 1' }).min(0).max(1))
      .optional(),
  ),
  /** How often finished spans are sent, ms. @defaultValue 5000 */
  OTEL_BSP_SCHEDULE_DELAY: wholeNumber(600_000),
  /** Spans held for export at most; more are dropped. @defaultValue 2048 */
  OTEL_BSP_MAX_QUEUE_SIZE: wholeNumber(1_000_000),
  /** @defaultValue 512 */
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: wholeNumber(1_000_000),
} as const;

type OtelEnv = { readonly [K in keyof typeof OTEL_ENV]?: z.output<(typeof OTEL_ENV)[K]> };

export type Sampling = { readonly kind: NonNullable<OtelEnv['OTEL_TRACES_SAMPLER']>; readonly ratio: number };

export type TracingConfig =
  | { readonly enabled: false }
  | {
      readonly enabled: true;
      readonly exporter:
        | { readonly kind: 'console' }
        | {
            readonly kind: 'otlp';
            readonly url: string;
            readonly protocol: 'http/protobuf' | 'http/json';
            readonly headers: Readonly<Record<string, string>>;
            readonly timeoutMs: number;
          };
      /** OTEL_SERVICE_NAME; each process names itself when unset. */
      readonly serviceName: string | undefined;
      readonly resourceAttributes: Readonly<Record<string, string>>;
      readonly sampling: Sampling;
      readonly batch: { readonly delayMs: number; readonly maxQueueSize: number; readonly maxBatchSize: number };
    };

export function tracingConfig(env: OtelEnv): TracingConfig {
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const exporter = env.OTEL_TRACES_EXPORTER ?? (endpoint ? 'otlp' : 'none');
  if (env.OTEL_SDK_DISABLED === 'true' || exporter === 'none') return { enabled: false };
  const base = (env.OTEL_EXPORTER_OTLP_ENDPOINT ?? 'http://localhost:4318').replace(/\/+$/, '');
  return {
    enabled: true,
    exporter:
      exporter === 'console'
        ? { kind: 'console' }
        : {
            kind: 'otlp',
            url: env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? `${base}/v1/traces`,
            protocol: env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf',
            headers: { ...env.OTEL_EXPORTER_OTLP_HEADERS, ...env.OTEL_EXPORTER_OTLP_TRACES_HEADERS },
            timeoutMs: env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT ?? 10_000,
          },
    serviceName: env.OTEL_SERVICE_NAME,
    resourceAttributes: env.OTEL_RESOURCE_ATTRIBUTES ?? {},
    sampling: { kind: env.OTEL_TRACES_SAMPLER ?? 'parentbased_always_on', ratio: env.OTEL_TRACES_SAMPLER_ARG ?? 1 },
    batch: {
      delayMs: env.OTEL_BSP_SCHEDULE_DELAY ?? 5_000,
      maxQueueSize: env.OTEL_BSP_MAX_QUEUE_SIZE ?? 2_048,
      maxBatchSize: env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE ?? 512,
    },
  };
}

/** Headers that carry a collector's credentials, by name (an API key, a token, a team key). */
const CREDENTIAL_HEADER = /auth|key|token|secret|password|team|cookie/i;

/**
 * The collector's credentials, kept out of logs with the other secrets. Only headers named like one:
 * every secret is cut from every log line, and a plain value (`x-scope-orgid=model`) would mangle them.
 */
export function tracingSecrets(config: TracingConfig): string[] {
  if (!config.enabled || config.exporter.kind !== 'otlp') return [];
  return Object.entries(config.exporter.headers)
    .filter(([name]) => CREDENTIAL_HEADER.test(name))
    .map(([, value]) => value);
}
