/**
 * renderq's configuration as the rest of the code sees it: the environment parsed
 * once through its schema (env-schema.ts), each variable put in its place in
 * `toConfig` (the one mapping from variable names to groups by concern; `Config` is
 * the type it returns), frozen. Each kind of process adds its own rules when it
 * parses (`ROLE_RULES`). A bad value stops the process with one line naming the
 * variable (see `loadConfigOrExit`).
 *
 * Units: every duration in Config is milliseconds and named `…Ms`, every size bytes
 * (`…Bytes`), whatever unit its variable is given in (docs/configuration.md, "Units").
 */
import path from 'node:path';
import { z } from 'zod';
import { parseWithMessages } from '../validation.js';
import { type Env, EnvSchema } from './env-schema.js';
import { tracingConfig, tracingSecrets } from './otel-env.js';

/** The kinds of process that parse the configuration, each with rules of its own. */
export type ProcessRole = 'api' | 'worker';

export interface LoadConfigOptions {
  /** Whose rules to add to the ones every process shares; unset: the shared ones only (the launcher, tests). */
  readonly role?: ProcessRole;
}

/** Rules of one kind of process, checked with every other rule when it parses its configuration. */
const ROLE_RULES: Readonly<Record<ProcessRole, (env: Env, ctx: z.RefinementCtx) => void>> = {
  api: () => {},
  worker: (env, ctx) => {
    if (env.SEGMIND_API_KEY === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['SEGMIND_API_KEY'],
        message: 'is required to run a worker (pnpm start runs the bundled Segmind emulator without it)',
      });
    }
  },
};

export type StorageConfig =
  | { readonly kind: 'file'; readonly dir: string }
  | {
      readonly kind: 's3';
      readonly bucket: string;
      /** Key prefix inside the bucket, without leading or trailing slash; may be empty. */
      readonly prefix: string;
      readonly endpoint: string | undefined;
      readonly forcePathStyle: boolean;
      /** The storage check creates a missing bucket. */
      readonly createBucket: boolean;
      readonly region: string;
      /** undefined: the AWS SDK's default credential chain. */
      readonly credentials:
        | { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string }
        | undefined;
    };

type DeepReadonly<T> = T extends readonly (infer Item)[]
  ? readonly DeepReadonly<Item>[]
  : T extends object
    ? { readonly [Key in keyof T]: DeepReadonly<T[Key]> }
    : T;

/** The configuration: what the schema's mapping (`toConfig`) makes of the environment. */
export type Config = DeepReadonly<ReturnType<typeof toConfig>>;
/** A worker's configuration: its rules hold (it has a Segmind key). */
export type WorkerConfig = Config & { readonly segmind: { readonly apiKey: string } };
export type Tenant = NonNullable<Config['api']['tenants']>[number];

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

/** The schema of one kind of process's configuration: the environment's, its own rules, the mapping. */
function configSchema(role: ProcessRole | undefined) {
  const checked = role ? EnvSchema.superRefine(ROLE_RULES[role]) : EnvSchema;
  return checked.transform((env, ctx) => {
    const storage = parseStorageUrl(env);
    if (typeof storage === 'string') {
      ctx.addIssue({ code: 'custom', path: ['STORAGE_URL'], message: storage });
      return z.NEVER;
    }
    if (env.OUTPUT_LINKS === 'presigned' && storage.kind !== 's3') {
      ctx.addIssue({
        code: 'custom',
        path: ['OUTPUT_LINKS'],
        message: 'is presigned, which needs S3 storage (STORAGE_URL=s3://…)',
      });
      return z.NEVER;
    }
    return deepFreeze(toConfig(env, storage)) as Config;
  });
}

type Environment = Readonly<Record<string, string | undefined>>;

export function loadConfig(env: Environment, options: { readonly role: 'worker' }): WorkerConfig;
export function loadConfig(env: Environment, options?: LoadConfigOptions): Config;
export function loadConfig(env: Environment, options: LoadConfigOptions = {}): Config {
  const parsed = parseWithMessages(configSchema(options.role), env);
  if (!parsed.success) throw configErrorFrom(parsed.error);
  return parsed.data;
}

/** For process entry points: parse, or print one line to stderr and exit 1. */
export function loadConfigOrExit(env: Environment, options: { readonly role: 'worker' }): WorkerConfig;
export function loadConfigOrExit(env: Environment, options?: LoadConfigOptions): Config;
export function loadConfigOrExit(env: Environment, options: LoadConfigOptions = {}): Config {
  try {
    return loadConfig(env, options);
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
    createBucket: env.S3_CREATE_BUCKET,
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

/** Where each variable goes (and in which unit): the one place that says so. */
function toConfig(env: Env, storage: StorageConfig) {
  const tracing = tracingConfig(env);
  const tenants = env.RENDERQ_API_KEYS;
  const secrets = [
    env.SEGMIND_API_KEY,
    ...(env.WEBHOOK_SECRET ?? []),
    env.AWS_SECRET_ACCESS_KEY,
    env.AWS_SESSION_TOKEN,
    env.OUTPUT_LINK_SECRET,
    env.REDIS_SENTINEL_PASSWORD,
    ...(tenants ?? []).map((t) => t.key),
    ...env.RENDERQ_ADMIN_KEYS,
    ...tracingSecrets(tracing),
  ];
  return {
    nodeEnv: env.NODE_ENV,
    logLevel: env.LOG_LEVEL,
    /** json, pretty, or auto (pretty on a terminal): resolved by each process with logFormatFor. */
    logFormat: env.LOG_FORMAT,
    redis: {
      url: env.REDIS_URL,
      /** REDIS_CLUSTER: `url` is one node of a Redis Cluster. Unset: one Redis. */
      ...(env.REDIS_CLUSTER ? { cluster: true as const } : {}),
      /** REDIS_SENTINELS: the master is the one these sentinels name (`url` gives its credentials only). */
      ...(env.REDIS_SENTINELS
        ? {
            sentinel: {
              sentinels: env.REDIS_SENTINELS,
              master: env.REDIS_SENTINEL_MASTER,
              ...(env.REDIS_SENTINEL_PASSWORD ? { password: env.REDIS_SENTINEL_PASSWORD } : {}),
            },
          }
        : {}),
      prefix: env.RENDERQ_PREFIX,
      /** How long one command may take before it fails (worker connections: at least 15 s). */
      commandTimeoutMs: env.REDIS_COMMAND_TIMEOUT_MS,
    },
    api: {
      host: env.HOST,
      port: env.PORT,
      publicBaseUrl: (env.PUBLIC_BASE_URL ?? `http://${hostForUrl(env.HOST)}:${env.PORT}`).replace(/\/+$/, ''),
      /** undefined: no authentication (development only; logged loudly). */
      tenants,
      /** Keys that reach admin routes and the dashboard; empty: nobody (or everyone, without tenant keys). */
      operatorKeys: env.RENDERQ_ADMIN_KEYS,
      outputLinkSecret: env.OUTPUT_LINK_SECRET,
      outputLinkTtlMs: env.OUTPUT_LINK_TTL_SECONDS * 1000,
      outputLinks: env.OUTPUT_LINKS,
      /** Server timeouts and the connection cap, against idle and trickling connections. */
      http: {
        requestTimeoutMs: env.HTTP_REQUEST_TIMEOUT_MS,
        headersTimeoutMs: env.HTTP_HEADERS_TIMEOUT_MS,
        keepAliveTimeoutMs: env.HTTP_KEEP_ALIVE_TIMEOUT_MS,
        idleTimeoutMs: env.HTTP_IDLE_TIMEOUT_MS,
        maxConnections: env.HTTP_MAX_CONNECTIONS,
        /** 0: no limit per client address. */
        maxConnectionsPerIp: env.HTTP_MAX_CONNECTIONS_PER_IP,
      },
      /** Batch uploads read at once per process (and per tenant), how long one more waits, how slow one may be. */
      batchUploads: {
        concurrency: env.BATCH_UPLOAD_CONCURRENCY,
        perTenant: env.BATCH_UPLOAD_CONCURRENCY_PER_TENANT,
        waitMs: env.BATCH_UPLOAD_WAIT_MS,
        /** 0: no minimum. */
        minBytesPerSecond: env.BATCH_UPLOAD_MIN_BYTES_PER_SECOND,
      },
      /** Each tenant's token bucket: jobs per second (0: no limit) and the most it holds. */
      enqueueRate: { perSecond: env.TENANT_ENQUEUE_RATE, burst: env.TENANT_ENQUEUE_BURST },
      /** Unfinished jobs each tenant may have (0: no quota), and tenants' own quotas. */
      backlogQuota: { perTenant: env.TENANT_BACKLOG_QUOTA, tenants: env.TENANT_BACKLOG_QUOTAS },
      /** What each tenant may spend a UTC day and month, in USD (0: no budget), and tenants' own budgets. */
      spendBudgets: {
        daily: { perTenant: env.TENANT_DAILY_BUDGET_USD, tenants: env.TENANT_DAILY_BUDGETS_USD },
        monthly: { perTenant: env.TENANT_MONTHLY_BUDGET_USD, tenants: env.TENANT_MONTHLY_BUDGETS_USD },
      },
      /** Event streams one tenant may hold open on one API process. */
      eventStreamsPerTenant: env.EVENT_STREAMS_PER_TENANT,
      /** Percent of Redis' maxmemory past which new work is refused (0: never). */
      memoryGuardPercent: env.REDIS_MEMORY_GUARD_PERCENT,
    },
    worker: {
      metricsPort: env.WORKER_METRICS_PORT,
      concurrency: env.WORKER_CONCURRENCY,
      pollConcurrency: env.WORKER_POLL_CONCURRENCY,
      lockDurationMs: env.WORKER_LOCK_DURATION_MS,
      /** How long a job or webhook event may go unmoved before the reconciler checks its BullMQ job. */
      // A polling job moves at least every poll interval, and a held job returns after its lock lapses.
      reconcileAfterMs:
        env.WORKER_RECONCILE_AFTER_MS ??
        2 * env.POLL_MAX_INTERVAL_SECONDS * 1000 + 2 * env.WORKER_LOCK_DURATION_MS + 10_000,
      jobDeadlineMs: env.JOB_DEADLINE_SECONDS * 1000,
      /** How long Segmind keeps a finished request's status and result. */
      resultRetentionMs: env.SEGMIND_RESULT_RETENTION_SECONDS * 1000,
      /** From the first submit Segmind did not take, how long a job keeps trying before it fails. */
      outageWaitMs: env.SEGMIND_OUTAGE_WAIT_SECONDS * 1000,
      ambiguousSubmitPolicy: env.AMBIGUOUS_SUBMIT_POLICY,
      /** From a submit's start, how long a worker that finds it unfinished waits before the policy settles it. */
      // A dead worker's job is handed over within about two locks: a wait as long delays it little more.
      ambiguousSubmitWaitMs: env.AMBIGUOUS_SUBMIT_WAIT_MS ?? 2 * env.WORKER_LOCK_DURATION_MS,
      pollMaxIntervalMs: env.POLL_MAX_INTERVAL_SECONDS * 1000,
      /** Detection lag polls aim at, as a share of a model's median latency. */
      pollLagShare: env.POLL_LAG_PERCENT / 100,
      creditsCheckIntervalMs: env.CREDITS_CHECK_INTERVAL_SECONDS * 1000,
      outputMaxBytes: env.OUTPUT_MAX_BYTES,
      /** Due work untaken this long makes a consumer stalled (replaced, /healthz failing); 0: not watched. */
      stallMs: env.WORKER_STALL_SECONDS * 1000,
    },
    segmind: {
      apiKey: env.SEGMIND_API_KEY,
      baseUrl: env.SEGMIND_BASE_URL.replace(/\/+$/, ''),
      maxInflight: env.SEGMIND_MAX_INFLIGHT,
      timeoutMs: env.SEGMIND_TIMEOUT_SECONDS * 1000,
      /** The submit limit SEGMIND_RATE_LIMIT states (a count per window); undefined: learned from 429s. */
      rateLimit: env.SEGMIND_RATE_LIMIT,
    },
    storage,
    /** How often API and worker prove storage writable. */
    storageCheckIntervalMs: env.STORAGE_CHECK_INTERVAL_MS,
    webhooks: {
      /** The secret webhooks are signed with; undefined: no webhooks are sent (nor events recorded). */
      secret: env.WEBHOOK_SECRET?.[0],
      /** Every secret each webhook is signed with: `secret` first, then older ones kept during a rotation. */
      secrets: env.WEBHOOK_SECRET ?? [],
      allowPrivate: env.WEBHOOK_ALLOW_PRIVATE,
      /** The wait before each retry; its length is the number of retries after the first attempt. */
      retryDelaysMs: env.WEBHOOK_RETRY_SCHEDULE,
      timeoutMs: env.WEBHOOK_TIMEOUT_MS,
      concurrency: env.WEBHOOK_CONCURRENCY,
      hostFailureThreshold: env.WEBHOOK_HOST_FAILURE_THRESHOLD,
    },
    /** Models outside the catalogue accepted, and prices per image (USD) in place of the catalogue's. */
    models: { allowUnknown: env.RENDERQ_ALLOW_UNKNOWN_MODELS, pricesUsd: env.MODEL_PRICES_USD },
    /** Whether tenants share the submit budget by weight, and the weights other than 1 (API and workers). */
    fairShare: { on: env.FAIR_SHARE, weights: env.TENANT_WEIGHTS },
    jobs: { retentionMs: env.JOB_RETENTION_DAYS * 24 * 3600 * 1000 },
    /** OpenTelemetry traces (OTEL_*): off unless an exporter or OTLP endpoint is set. */
    tracing,
    /** Values that must never appear in logs. */
    secrets: secrets.filter((s): s is string => typeof s === 'string' && s.length > 0),
  };
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
