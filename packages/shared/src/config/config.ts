/**
 * renderq's configuration as the rest of the code sees it: parsed once from the
 * environment, grouped by concern, frozen. A bad value stops the process with one
 * line naming the variable (see `loadConfigOrExit`).
 */
import path from 'node:path';
import type { z } from 'zod';
import { type Env, EnvSchema } from './env-schema.js';

export interface Tenant {
  readonly tenant: string;
  readonly key: string;
}

export type StorageConfig =
  | { readonly kind: 'file'; readonly dir: string }
  | {
      readonly kind: 's3';
      readonly bucket: string;
      /** Key prefix inside the bucket, without leading or trailing slash; may be empty. */
      readonly prefix: string;
      readonly endpoint: string | undefined;
      readonly forcePathStyle: boolean;
      readonly region: string;
      /** undefined: the AWS SDK's default credential chain. */
      readonly credentials:
        | { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string }
        | undefined;
    };

export interface Config {
  readonly nodeEnv: Env['NODE_ENV'];
  readonly logLevel: Env['LOG_LEVEL'];
  readonly redis: {
    readonly url: string;
    readonly prefix: string;
    /** How long one command may take before it fails (worker connections: at least 15 s). */
    readonly commandTimeoutMs: number;
  };
  readonly api: {
    readonly host: string;
    readonly port: number;
    readonly publicBaseUrl: string;
    /** undefined: no authentication (development only; logged loudly). */
    readonly tenants: readonly Tenant[] | undefined;
    /** Keys that reach admin routes and the dashboard; empty: nobody (or everyone, without tenant keys). */
    readonly operatorKeys: readonly string[];
    readonly outputLinkSecret: string | undefined;
    readonly outputLinkTtlSeconds: number;
    readonly outputLinks: 'api' | 'presigned';
    /** Server timeouts and the connection cap, against idle and trickling connections. */
    readonly http: {
      readonly requestTimeoutMs: number;
      readonly headersTimeoutMs: number;
      readonly keepAliveTimeoutMs: number;
      readonly idleTimeoutMs: number;
      readonly maxConnections: number;
      /** 0: no limit per client address. */
      readonly maxConnectionsPerIp: number;
    };
    /** Batch uploads read at once per process (and per tenant), how long one more waits, how slow one may be. */
    readonly batchUploads: {
      readonly concurrency: number;
      readonly perTenant: number;
      readonly waitMs: number;
      /** 0: no minimum. */
      readonly minBytesPerSecond: number;
    };
    /** Each tenant's token bucket: jobs per second (0: no limit) and the most it holds. */
    readonly enqueueRate: { readonly perSecond: number; readonly burst: number };
  };
  readonly worker: {
    readonly metricsPort: number;
    readonly concurrency: number;
    readonly pollConcurrency: number;
    readonly lockDurationMs: number;
    /** How long a job or webhook event may go unmoved before the reconciler checks its BullMQ job. */
    readonly reconcileAfterMs: number;
    readonly jobDeadlineMs: number;
    readonly ambiguousSubmitPolicy: 'fail' | 'resubmit';
    readonly pollMaxIntervalMs: number;
    /** Detection lag polls aim at, as a share of a model's median latency. */
    readonly pollLagShare: number;
    readonly creditsCheckIntervalMs: number;
    readonly outputMaxBytes: number;
  };
  readonly segmind: {
    readonly apiKey: string | undefined;
    readonly baseUrl: string;
    readonly maxInflight: number;
    readonly timeoutMs: number;
    /** Submits per second SEGMIND_RATE_LIMIT allows; undefined: learned from 429s. */
    readonly rateLimitPerSecond: number | undefined;
  };
  readonly storage: StorageConfig;
  readonly webhooks: {
    /** The secret webhooks are signed with; undefined: no webhooks are sent (nor events recorded). */
    readonly secret: string | undefined;
    /** Every secret each webhook is signed with: `secret` first, then older ones kept during a rotation. */
    readonly secrets: readonly string[];
    readonly allowPrivate: boolean;
    /** The wait before each retry; its length is the number of retries after the first attempt. */
    readonly retryDelaysMs: readonly number[];
    readonly timeoutMs: number;
    readonly concurrency: number;
    readonly hostFailureThreshold: number;
  };
  readonly models: { readonly allowUnknown: boolean };
  readonly jobs: { readonly retentionMs: number };
  /** Values that must never appear in logs. */
  readonly secrets: readonly string[];
}

/** A configuration problem; `message` is one line naming every bad variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    message: string,
    readonly variables: readonly string[],
  ) {
    super(message);
  }
}

export function loadConfig(env: Readonly<Record<string, string | undefined>>): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) throw configErrorFrom(parsed.error);
  const storage = parseStorageUrl(parsed.data);
  if (typeof storage === 'string') {
    throw new ConfigError(`STORAGE_URL ${storage}`, ['STORAGE_URL']);
  }
  if (parsed.data.OUTPUT_LINKS === 'presigned' && storage.kind !== 's3') {
    throw new ConfigError('OUTPUT_LINKS=presigned needs S3 storage (STORAGE_URL=s3://…)', ['OUTPUT_LINKS']);
  }
  return toConfig(parsed.data, storage);
}

/** For process entry points: parse, or print one line to stderr and exit 1. */
export function loadConfigOrExit(env: Readonly<Record<string, string | undefined>>): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`renderq: configuration error: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

function configErrorFrom(error: z.ZodError): ConfigError {
  const byVariable = new Map<string, string>();
  for (const issue of error.issues) {
    const variable = String(issue.path[0] ?? 'environment');
    if (!byVariable.has(variable)) byVariable.set(variable, issue.message);
  }
  const line = [...byVariable].map(([variable, message]) => `${variable} ${message}`).join('; ');
  return new ConfigError(line.replaceAll('\n', ' '), [...byVariable.keys()]);
}

function parseStorageUrl(env: Env): StorageConfig | string {
  const raw = env.STORAGE_URL;
  if (raw.startsWith('file://')) {
    const dir = raw.slice('file://'.length);
    if (dir === '') return 'must name a directory (file://DIR)';
    return { kind: 'file', dir: path.resolve(decodeURIComponent(dir)) };
  }
  const url = new URL(raw);
  const bucket = url.hostname;
  // S3's own naming rules; a wrong bucket name would otherwise fail only at the first upload.
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    return `must be s3://BUCKET/PREFIX with a valid bucket name (got "${bucket}")`;
  }
  const prefix = decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, '');
  return {
    kind: 's3',
    bucket,
    prefix,
    endpoint: env.S3_ENDPOINT,
    forcePathStyle: env.S3_FORCE_PATH_STYLE,
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    credentials:
      env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
        ? {
            accessKeyId: env.AWS_ACCESS_KEY_ID,
            secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
            ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
          }
        : undefined,
  };
}

function toConfig(env: Env, storage: StorageConfig): Config {
  const tenants = env.RENDERQ_API_KEYS;
  const secrets = [
    env.SEGMIND_API_KEY,
    ...(env.WEBHOOK_SECRET ?? []),
    env.AWS_SECRET_ACCESS_KEY,
    env.AWS_SESSION_TOKEN,
    env.OUTPUT_LINK_SECRET,
    ...(tenants ?? []).map((t) => t.key),
    ...env.RENDERQ_ADMIN_KEYS,
  ];
  const config: Config = {
    nodeEnv: env.NODE_ENV,
    logLevel: env.LOG_LEVEL,
    redis: { url: env.REDIS_URL, prefix: env.RENDERQ_PREFIX, commandTimeoutMs: env.REDIS_COMMAND_TIMEOUT_MS },
    api: {
      host: env.HOST,
      port: env.PORT,
      publicBaseUrl: (env.PUBLIC_BASE_URL ?? `http://${hostForUrl(env.HOST)}:${env.PORT}`).replace(/\/+$/, ''),
      tenants,
      operatorKeys: env.RENDERQ_ADMIN_KEYS,
      outputLinkSecret: env.OUTPUT_LINK_SECRET,
      outputLinkTtlSeconds: env.OUTPUT_LINK_TTL_SECONDS,
      outputLinks: env.OUTPUT_LINKS,
      http: {
        requestTimeoutMs: env.HTTP_REQUEST_TIMEOUT_MS,
        headersTimeoutMs: env.HTTP_HEADERS_TIMEOUT_MS,
        keepAliveTimeoutMs: env.HTTP_KEEP_ALIVE_TIMEOUT_MS,
        idleTimeoutMs: env.HTTP_IDLE_TIMEOUT_MS,
        maxConnections: env.HTTP_MAX_CONNECTIONS,
        maxConnectionsPerIp: env.HTTP_MAX_CONNECTIONS_PER_IP,
      },
      batchUploads: {
        concurrency: env.BATCH_UPLOAD_CONCURRENCY,
        perTenant: env.BATCH_UPLOAD_CONCURRENCY_PER_TENANT,
        waitMs: env.BATCH_UPLOAD_WAIT_MS,
        minBytesPerSecond: env.BATCH_UPLOAD_MIN_BYTES_PER_SECOND,
      },
      enqueueRate: { perSecond: env.TENANT_ENQUEUE_RATE, burst: env.TENANT_ENQUEUE_BURST },
    },
    worker: {
      metricsPort: env.WORKER_METRICS_PORT,
      concurrency: env.WORKER_CONCURRENCY,
      pollConcurrency: env.WORKER_POLL_CONCURRENCY,
      lockDurationMs: env.WORKER_LOCK_DURATION_MS,
      // A polling job moves at least every poll interval, and a held job returns after its lock lapses.
      reconcileAfterMs:
        env.WORKER_RECONCILE_AFTER_MS ??
        2 * env.POLL_MAX_INTERVAL_SECONDS * 1000 + 2 * env.WORKER_LOCK_DURATION_MS + 10_000,
      jobDeadlineMs: env.JOB_DEADLINE_SECONDS * 1000,
      ambiguousSubmitPolicy: env.AMBIGUOUS_SUBMIT_POLICY,
      pollMaxIntervalMs: env.POLL_MAX_INTERVAL_SECONDS * 1000,
      pollLagShare: env.POLL_LAG_PERCENT / 100,
      creditsCheckIntervalMs: env.CREDITS_CHECK_INTERVAL_SECONDS * 1000,
      outputMaxBytes: env.OUTPUT_MAX_BYTES,
    },
    segmind: {
      apiKey: env.SEGMIND_API_KEY,
      baseUrl: env.SEGMIND_BASE_URL.replace(/\/+$/, ''),
      maxInflight: env.SEGMIND_MAX_INFLIGHT,
      timeoutMs: env.SEGMIND_TIMEOUT_SECONDS * 1000,
      rateLimitPerSecond: env.SEGMIND_RATE_LIMIT,
    },
    storage,
    webhooks: {
      secret: env.WEBHOOK_SECRET?.[0],
      secrets: env.WEBHOOK_SECRET ?? [],
      allowPrivate: env.WEBHOOK_ALLOW_PRIVATE,
      retryDelaysMs: env.WEBHOOK_RETRY_SCHEDULE,
      timeoutMs: env.WEBHOOK_TIMEOUT_MS,
      concurrency: env.WEBHOOK_CONCURRENCY,
      hostFailureThreshold: env.WEBHOOK_HOST_FAILURE_THRESHOLD,
    },
    models: { allowUnknown: env.RENDERQ_ALLOW_UNKNOWN_MODELS },
    jobs: { retentionMs: env.JOB_RETENTION_DAYS * 24 * 3600 * 1000 },
    secrets: secrets.filter((s): s is string => typeof s === 'string' && s.length > 0),
  };
  return deepFreeze(config);
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
