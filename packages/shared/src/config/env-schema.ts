/**
 * The one schema over renderq's environment (docs/configuration.md).
 * Every process parses it once at start through `loadConfig`; nothing else reads
 * `process.env`.
 */
import { MAX_BATCH_JOBS, webhookSecretProblem } from '@renderq/contract';
import { z } from 'zod';
import { OTEL_ENV } from './otel-env.js';

const booleanFlag = (defaultValue: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], {
      error: 'must be true or false',
    })
    .optional()
    .transform((value) => (value === undefined ? defaultValue : value === 'true' || value === '1' || value === 'yes'));

const port = (defaultValue: number) =>
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value === '') return defaultValue;
      const n = Number(value);
      if (!/^\d+$/.test(value) || n < 0 || n > 65535) {
        ctx.addIssue({ code: 'custom', message: `must be a port number 0-65535 (got "${value}")` });
        return z.NEVER;
      }
      return n;
    });

/** A whole number min…max, or undefined when unset (for a default derived from other variables). */
const optionalWholeNumber = (min: 0 | 1, max: number) =>
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value === '') return undefined;
      const n = Number(value);
      if (!/^\d+$/.test(value) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be a whole number ${min}-${max} (got "${value}")` });
        return z.NEVER;
      }
      return n;
    });
const optionalPositiveInt = (max = Number.MAX_SAFE_INTEGER) => optionalWholeNumber(1, max);

const positiveInt = (defaultValue: number, max = Number.MAX_SAFE_INTEGER) =>
  optionalPositiveInt(max).transform((value) => value ?? defaultValue);
/** Like positiveInt, but 0 is allowed (it turns the thing off, or means "not at all"). */
const nonNegativeInt = (defaultValue: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value === '') return defaultValue;
      const n = Number(value);
      if (!/^\d+$/.test(value) || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be a whole number 0-${max} (got "${value}")` });
        return z.NEVER;
      }
      return n;
    });

/** A URL whose scheme is one of `schemes`; the message names what was given. */
const urlWithScheme = (schemes: readonly string[], what: string) =>
  z.string().superRefine((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: `must be ${what} (got "${value}")` });
      return;
    }
    if (!schemes.includes(url.protocol)) {
      ctx.addIssue({
        code: 'custom',
        message: `must be ${what}; scheme "${url.protocol}" is not supported`,
      });
    }
  });

const DURATION_UNITS_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Durations such as `5s,5m,2h`, as milliseconds. */
const durationList = z.string().transform((value, ctx) => {
  const delays: number[] = [];
  for (const part of value.split(',').map((p) => p.trim())) {
    const match = /^(\d+)(ms|s|m|h|d)$/.exec(part);
    if (!match) {
      ctx.addIssue({ code: 'custom', message: `must be durations such as 5s,5m,2h (got "${part}")` });
      return z.NEVER;
    }
    delays.push(Number(match[1]) * DURATION_UNITS_MS[match[2] as keyof typeof DURATION_UNITS_MS]);
  }
  if (delays.length > 50) {
    ctx.addIssue({ code: 'custom', message: 'must list at most 50 retries' });
    return z.NEVER;
  }
  return delays;
});

const emptyToUndefined = (value: unknown) => (value === '' ? undefined : value);

/** `tenant:key` pairs, comma-separated. Keys are secrets: messages never echo them. */
const apiKeys = z
  .string()
  .optional()
  .transform((value, ctx) => {
    if (value === undefined || value.trim() === '') return undefined;
    const pairs: { tenant: string; key: string }[] = [];
    const entries = value.split(',').map((entry) => entry.trim());
    for (const [index, entry] of entries.entries()) {
      const colon = entry.indexOf(':');
      const tenant = colon > 0 ? entry.slice(0, colon) : '';
      const key = colon > 0 ? entry.slice(colon + 1) : '';
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(tenant) || key.length < 8) {
        ctx.addIssue({
          code: 'custom',
          message: `entry ${index + 1} must be tenant:key (tenant of letters, digits, _ . -; key of at least 8 characters)`,
        });
        return z.NEVER;
      }
      pairs.push({ tenant, key });
    }
    const keys = new Set(pairs.map((p) => p.key));
    if (keys.size !== pairs.length) {
      ctx.addIssue({ code: 'custom', message: 'the same key is given to two entries' });
      return z.NEVER;
    }
    return pairs;
  });

/** A USD amount with at most six decimals (millionths, what the spend ledger counts in). */
const USD = /^\d{1,9}(?:\.\d{1,6})?$/;
const WHOLE = /^\d{1,9}$/;

/**
 * name:number pairs, comma-separated: each tenant's (or model's) own setting. `what` names the
 * number; `usd` takes amounts in USD rather than whole numbers.
 */
const perName = (what: string, min: number, max: number, options: { usd?: boolean; names?: string } = {}) =>
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      // No prototype: a tenant named `constructor` or `__proto__` is a tenant like any other.
      const values: Record<string, number> = Object.create(null);
      if (value === undefined || value.trim() === '') return values;
      const names = options.names ?? 'tenant';
      const namePattern = names === 'tenant' ? /^[A-Za-z0-9_.-]{1,64}$/ : /^[a-z0-9][a-z0-9._-]{0,127}$/i;
      for (const [index, entry] of value.split(',').entries()) {
        const colon = entry.lastIndexOf(':');
        const name = entry.slice(0, colon).trim();
        const amount = entry.slice(colon + 1).trim();
        const number = Number(amount);
        if (
          colon < 0 ||
          !namePattern.test(name) ||
          !(options.usd ? USD : WHOLE).test(amount) ||
          number < min ||
          number > max
        ) {
          const kind = options.usd ? `an amount in USD from ${min} to ${max}` : `a whole number from ${min} to ${max}`;
          ctx.addIssue({
            code: 'custom',
            message: `entry ${index + 1} must be ${names}:${what} (a ${names} name, then ${kind})`,
          });
          return z.NEVER;
        }
        values[name] = number;
      }
      return values;
    });

const perTenant = (what: string, min: number, max: number) => perName(what, min, max);

/** A USD amount, 0 allowed (none). */
const usdAmount = (defaultValue: number) =>
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value.trim() === '') return defaultValue;
      if (!USD.test(value.trim())) {
        ctx.addIssue({ code: 'custom', message: `must be an amount in USD such as 25 or 12.50 (got "${value}")` });
        return z.NEVER;
      }
      return Number(value);
    });

/** Operator keys, comma-separated; long, since they run the queue for every tenant. Never echoed. */
const operatorKeys = z
  .string()
  .optional()
  .transform((value, ctx) => {
    if (value === undefined || value.trim() === '') return [];
    const keys = value.split(',').map((entry) => entry.trim());
    for (const [index, key] of keys.entries()) {
      if (key.length < 16 || /\s/.test(key)) {
        ctx.addIssue({ code: 'custom', message: `entry ${index + 1} must be a key of at least 16 characters` });
        return z.NEVER;
      }
    }
    if (new Set(keys).size !== keys.length) {
      ctx.addIssue({ code: 'custom', message: 'the same key is given twice' });
      return z.NEVER;
    }
    return keys;
  });

/** REDIS_SENTINELS: host:port entries, comma-separated ([::1]:26379 for IPv6). */
const sentinelList = z.string().transform((value, ctx) => {
  const sentinels: { host: string; port: number }[] = [];
  for (const entry of value.split(',').map((part) => part.trim())) {
    const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(entry);
    const port = Number(match?.[3]);
    if (!match || port < 1 || port > 65_535) {
      ctx.addIssue({ code: 'custom', message: `must be host:port entries, comma-separated (got "${entry}")` });
      return z.NEVER;
    }
    sentinels.push({ host: (match[1] ?? match[2]) as string, port });
  }
  return sentinels;
});

export const EnvSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    /** pino level. @defaultValue info */
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** json: one JSON object per line; pretty: coloured lines for a person; auto: pretty on a terminal. */
    LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
    /** Redis for BullMQ and job records. @defaultValue redis://127.0.0.1:6379 */
    REDIS_URL: z.preprocess(
      emptyToUndefined,
      urlWithScheme(['redis:', 'rediss:'], 'a redis:// or rediss:// URL').default('redis://127.0.0.1:6379'),
    ),
    /**
     * REDIS_URL is one node of a Redis Cluster, from which clients learn the others; RENDERQ_PREFIX
     * must then be a hash tag such as {renderq}. @defaultValue false
     */
    REDIS_CLUSTER: booleanFlag(false),
    /**
     * Redis Sentinel: the sentinels (host:port, comma-separated) that name the master, followed across a
     * failover; REDIS_URL then gives only the master's password, database and TLS, not its host.
     */
    REDIS_SENTINELS: z.preprocess(emptyToUndefined, sentinelList.optional()),
    /** The master's name the sentinels monitor. @defaultValue mymaster */
    REDIS_SENTINEL_MASTER: z.preprocess(emptyToUndefined, z.string().min(1).default('mymaster')),
    /** The sentinels' own password (requirepass on the sentinels), when they have one. */
    REDIS_SENTINEL_PASSWORD: z.preprocess(emptyToUndefined, z.string().min(1).optional()),
    /** Key prefix for every Redis key; a hash tag such as {renderq} on Redis Cluster. */
    /**
     * How long a Redis command may take before it fails (a Redis that stops answering is reported,
     * not waited on). Worker connections use at least 15 s: BullMQ blocks up to 10 s waiting for jobs.
     * @defaultValue 5000
     */
    REDIS_COMMAND_TIMEOUT_MS: positiveInt(5_000, 600_000),
    RENDERQ_PREFIX: z.preprocess(
      emptyToUndefined,
      z
        .string()
        .regex(/^[A-Za-z0-9_{}.-]{1,64}$/, 'must be 1-64 letters, digits or _ { } . -')
        .default('renderq'),
    ),
    HOST: z.preprocess(emptyToUndefined, z.string().min(1).default('127.0.0.1')),
    PORT: port(8080),
    WORKER_METRICS_PORT: port(9464),
    /** Sent to Segmind as x-api-key. Unset: `pnpm start` runs the bundled emulator. */
    SEGMIND_API_KEY: z.preprocess(emptyToUndefined, z.string().min(1).optional()),
    /**
     * Segmind's submit limit for the key when known, as a count per window: 5/s, 50/min, 1000/h, or
     * with the window's length, 50/60s, 100/10s, 500/5min. The shared rate budget starts there (its
     * ceiling, window and highest rate) instead of finding it from 429s. @defaultValue unset (learned)
     */
    SEGMIND_RATE_LIMIT: z.preprocess(
      emptyToUndefined,
      z
        .string()
        .regex(
          /^\d+(\.\d+)?\/(\d+(\.\d+)?)?(s|min|h)$/,
          'SEGMIND_RATE_LIMIT must be a count per window, like 5/s, 50/min, 50/60s or 1000/h',
        )
        .transform((value, context) => {
          // The regex above has matched, so the groups are there; the unit is one of the three.
          const [, count = '', length = '', unit = 's'] = /^([\d.]+)\/([\d.]*)(s|min|h)$/.exec(value) ?? [];
          const unitMs: Record<string, number> = { s: 1_000, min: 60_000, h: 3_600_000 };
          const windowMs = Number(length || 1) * (unitMs[unit] ?? 1_000);
          if (Number(count) <= 0 || windowMs <= 0) {
            context.addIssue({ code: 'custom', message: 'SEGMIND_RATE_LIMIT must allow at least one submit a window' });
            return z.NEVER;
          }
          return { count: Number(count), windowMs };
        })
        .optional(),
    ),
    SEGMIND_BASE_URL: z.preprocess(
      emptyToUndefined,
      urlWithScheme(['http:', 'https:'], 'an http:// or https:// URL').default('https://api.segmind.com'),
    ),
    /** file://DIR or s3://BUCKET/PREFIX. @defaultValue file://./data/outputs */
    STORAGE_URL: z.preprocess(
      emptyToUndefined,
      urlWithScheme(['file:', 's3:'], 'a file://DIR or s3://BUCKET/PREFIX URL').default('file://./data/outputs'),
    ),
    S3_ENDPOINT: z.preprocess(
      emptyToUndefined,
      urlWithScheme(['http:', 'https:'], 'an http:// or https:// URL').optional(),
    ),
    S3_FORCE_PATH_STYLE: booleanFlag(false),
    /** Create the bucket STORAGE_URL names when it does not exist (the storage check does it). */
    S3_CREATE_BUCKET: booleanFlag(false),
    /** How often API and worker prove storage writable; while it is not, /readyz fails and no job is submitted. */
    STORAGE_CHECK_INTERVAL_MS: positiveInt(30_000, 3_600_000),
    /** Standard AWS variables, read here so that nothing else touches process.env. */
    AWS_REGION: z.preprocess(emptyToUndefined, z.string().optional()),
    AWS_DEFAULT_REGION: z.preprocess(emptyToUndefined, z.string().optional()),
    /** Unset: the AWS SDK's own chain (instance role, profile, web identity). */
    AWS_ACCESS_KEY_ID: z.preprocess(emptyToUndefined, z.string().optional()),
    AWS_SECRET_ACCESS_KEY: z.preprocess(emptyToUndefined, z.string().optional()),
    AWS_SESSION_TOKEN: z.preprocess(emptyToUndefined, z.string().optional()),
    RENDERQ_API_KEYS: apiKeys,
    /** Operator keys, comma-separated: the only keys that reach admin routes and the queue dashboard. */
    RENDERQ_ADMIN_KEYS: operatorKeys,
    /** One secret, or during a rotation several (the new one first), comma-separated: each signs every webhook. */
    WEBHOOK_SECRET: z.preprocess(
      emptyToUndefined,
      z
        .string()
        .transform((value) => value.split(',').map((part) => part.trim()))
        .refine(
          (secrets) => secrets.every(isWebhookSecret),
          'must be whsec_ followed by base64 of at least 24 bytes (several: comma-separated)',
        )
        .optional(),
    ),
    WEBHOOK_ALLOW_PRIVATE: booleanFlag(false),
    /** Waits before each retry of a webhook, comma-separated (ms, s, m, h, d). @defaultValue 5s,5m,30m,2h,5h,10h,10h */
    WEBHOOK_RETRY_SCHEDULE: z.preprocess(emptyToUndefined, durationList.prefault('5s,5m,30m,2h,5h,10h,10h')),
    /** How long a receiver has to answer 2xx. @defaultValue 15000 */
    WEBHOOK_TIMEOUT_MS: positiveInt(15_000, 120_000),
    /**
     * Deliveries in flight per worker process: a worker delivers at most this many per receiver answer
     * time (200 at 50 ms: 4,000/s). @defaultValue 200
     */
    WEBHOOK_CONCURRENCY: positiveInt(200, 1000),
    /** Failures in a row after which a receiving host is backed off as a whole. @defaultValue 10 */
    WEBHOOK_HOST_FAILURE_THRESHOLD: positiveInt(10, 10_000),
    PUBLIC_BASE_URL: z.preprocess(
      emptyToUndefined,
      urlWithScheme(['http:', 'https:'], 'an http:// or https:// URL').optional(),
    ),
    /** Signs the key-free output links jobs hand out; unset: a random key shared through Redis. */
    OUTPUT_LINK_SECRET: z.preprocess(emptyToUndefined, z.string().min(16, 'must be at least 16 characters').optional()),
    /** How long an output link works. @defaultValue 86400 */
    OUTPUT_LINK_TTL_SECONDS: positiveInt(86_400, 7 * 86_400),
    /** `api`: signed links to the API; `presigned`: presigned S3 URLs (S3 storage only). @defaultValue api */
    OUTPUT_LINKS: z.enum(['api', 'presigned']).default('api'),
    /** Opt-in: accept models outside the catalogue, input passed through (needs a string prompt). */
    RENDERQ_ALLOW_UNKNOWN_MODELS: booleanFlag(false),
    /** How long job records stay readable after they finish. @defaultValue 7 */
    JOB_RETENTION_DAYS: positiveInt(7, 3650),
    /** Submit slots per worker process. @defaultValue 20 */
    WORKER_CONCURRENCY: positiveInt(20, 1000),
    /** Poll and store slots per worker process (a polling job holds one only while it polls). @defaultValue 50 */
    WORKER_POLL_CONCURRENCY: positiveInt(50, 1000),
    /** Segmind requests submitted and not yet finished, across all workers. @defaultValue 1000 */
    SEGMIND_MAX_INFLIGHT: positiveInt(1000, 1_000_000),
    /** From submit to a final answer; past it the job fails with `timeout`. @defaultValue 600 */
    JOB_DEADLINE_SECONDS: positiveInt(600, 7 * 24 * 3600),
    /**
     * How long Segmind keeps a finished request's status and result (then both answer 404): set it only
     * to match a Segmind stand-in. Results of requests older than a quarter of it are fetched before
     * any output is stored. @defaultValue 3600
     */
    SEGMIND_RESULT_RETENTION_SECONDS: positiveInt(3600, 30 * 24 * 3600),
    /**
     * How long a job keeps trying after Segmind first did not take its submit (answered 5xx or not at
     * connect, which starts no request) before it fails `segmind_unavailable`. @defaultValue 3600
     */
    SEGMIND_OUTAGE_WAIT_SECONDS: positiveInt(3600, 30 * 24 * 3600),
    /** A submit whose answer never came: `fail` the job (never pay twice) or `resubmit` it. @defaultValue fail */
    AMBIGUOUS_SUBMIT_POLICY: z.enum(['fail', 'resubmit']).default('fail'),
    /**
     * How long after a submit began a worker that finds it unfinished (its worker stalled past its
     * lock, or died) waits before settling it by AMBIGUOUS_SUBMIT_POLICY: a stalled worker may still
     * record Segmind's answer meanwhile. 0: settled at once. Unset: twice WORKER_LOCK_DURATION_MS, by
     * when BullMQ hands a dead worker's job over anyway.
     * @defaultValue 2 × WORKER_LOCK_DURATION_MS (12000)
     */
    AMBIGUOUS_SUBMIT_WAIT_MS: optionalWholeNumber(0, 3_600_000),
    /** Longest wait between two polls of one request. @defaultValue 15 */
    POLL_MAX_INTERVAL_SECONDS: positiveInt(15, 3600),
    /** Detection lag polls aim at (Segmind finished → renderq sees it), in % of the model's median latency. @defaultValue 10 */
    POLL_LAG_PERCENT: positiveInt(10, 100),
    /** While paused for credits, how often one worker asks Segmind for the balance. @defaultValue 30 */
    CREDITS_CHECK_INTERVAL_SECONDS: positiveInt(30, 86_400),
    /** Largest output a worker downloads. @defaultValue 104857600 (100 MiB) */
    OUTPUT_MAX_BYTES: positiveInt(100 * 1024 * 1024, 10 * 1024 * 1024 * 1024),
    /** Timeout of one Segmind HTTP call (connect, headers, body each). @defaultValue 30 */
    SEGMIND_TIMEOUT_SECONDS: positiveInt(30, 600),
    /** How long a worker's hold on an active job lasts without renewal (renewed every half); a killed worker's jobs return after it and a stall check. @defaultValue 6000 */
    WORKER_LOCK_DURATION_MS: positiveInt(6_000, 3_600_000),
    /**
     * How long an unfinished job or a pending webhook event may go without moving before a
     * worker checks that its BullMQ job still exists (one that is lost is queued again);
     * one worker checks every half of it. Unset: twice the poll cap and the lock duration,
     * plus 10 s. @defaultValue 2 × POLL_MAX_INTERVAL_SECONDS + 2 × WORKER_LOCK_DURATION_MS + 10 s (52000)
     */
    WORKER_RECONCILE_AFTER_MS: optionalPositiveInt(7 * 24 * 3_600_000),
    /**
     * How long a queue a worker consumes may have jobs it could take while it takes none before the
     * worker counts as stalled: it replaces that queue's BullMQ worker (fresh connections) and
     * /healthz fails until it takes jobs again. 0: not watched. @defaultValue 60
     */
    WORKER_STALL_SECONDS: nonNegativeInt(60, 86_400),
    /** Batch uploads (JSON or NDJSON) one API process reads at once; each may hold its body in memory. @defaultValue 4 */
    BATCH_UPLOAD_CONCURRENCY: positiveInt(4, 1000),
    /** Of those, how many one tenant may hold, so that one tenant cannot take them all. @defaultValue 2 */
    BATCH_UPLOAD_CONCURRENCY_PER_TENANT: positiveInt(2, 1000),
    /**
     * A batch upload slower than this on average (after its first 10 s) is cut with a 408, so that
     * trickling uploads cannot hold the slots. 0 turns it off. @defaultValue 16384
     */
    BATCH_UPLOAD_MIN_BYTES_PER_SECOND: nonNegativeInt(16_384, 1_000_000_000),
    /** How long a batch upload waits for a free slot before it is answered 503. @defaultValue 5000 */
    BATCH_UPLOAD_WAIT_MS: nonNegativeInt(5_000, 600_000),
    /** Jobs per second each tenant may enqueue, across all API processes; 0 turns the limit off. @defaultValue 1000 */
    TENANT_ENQUEUE_RATE: nonNegativeInt(1_000, 10_000_000),
    /** Jobs a tenant may enqueue at once after a quiet spell; at least the largest batch (10000). @defaultValue 20000 */
    TENANT_ENQUEUE_BURST: positiveInt(20_000, 100_000_000),
    /**
     * Unfinished jobs (queued or running) each tenant may have; beyond it a job or a whole batch is
     * answered 429 before anything is stored. 0: no quota. @defaultValue 50000
     */
    TENANT_BACKLOG_QUOTA: nonNegativeInt(50_000, 100_000_000),
    /** Per-tenant quotas instead of TENANT_BACKLOG_QUOTA, comma-separated tenant:jobs (0: none for that tenant). */
    TENANT_BACKLOG_QUOTAS: perTenant('jobs', 0, 100_000_000),
    /**
     * Tenants share the Segmind submit budget by weight: while several have jobs waiting, each is
     * given submits in proportion to its weight. false: jobs are submitted in the order they came
     * (priority first), whoever sent them. @defaultValue true
     */
    FAIR_SHARE: booleanFlag(true),
    /** Tenants' weights other than 1, comma-separated tenant:weight (1–1000). */
    TENANT_WEIGHTS: perTenant('weight', 1, 1_000),
    /**
     * What each tenant may spend at Segmind in a UTC day, in USD: a job or a whole batch whose
     * reservation (its model's price per image, times its images) would take the day's spend past
     * it is answered 402 before anything is stored. 0: no daily budget. @defaultValue 0
     */
    TENANT_DAILY_BUDGET_USD: usdAmount(0),
    /** Per-tenant daily budgets instead of TENANT_DAILY_BUDGET_USD, comma-separated tenant:usd (0: none for that tenant). */
    TENANT_DAILY_BUDGETS_USD: perName('usd', 0, 1_000_000_000, { usd: true }),
    /** Like TENANT_DAILY_BUDGET_USD, for a UTC calendar month. 0: no monthly budget. @defaultValue 0 */
    TENANT_MONTHLY_BUDGET_USD: usdAmount(0),
    /** Per-tenant monthly budgets instead of TENANT_MONTHLY_BUDGET_USD, comma-separated tenant:usd (0: none for that tenant). */
    TENANT_MONTHLY_BUDGETS_USD: perName('usd', 0, 1_000_000_000, { usd: true }),
    /**
     * Prices per image in USD that jobs reserve against their tenants' budgets, comma-separated
     * model:usd, in place of the catalogue's (GET /v1/models shows the prices in use). A model
     * outside the catalogue has no price unless given here.
     */
    MODEL_PRICES_USD: perName('usd', 0, 1_000, { usd: true, names: 'model' }),
    /**
     * New jobs and batches are answered 503 while Redis uses more than this share of its maxmemory
     * (percent), so that work in flight still finds room; 0 turns the guard off. Without a maxmemory
     * there is nothing to guard. @defaultValue 90
     */
    REDIS_MEMORY_GUARD_PERCENT: nonNegativeInt(90, 99),
    /** The whole request (headers and body) must arrive within it, or it is answered 408 and closed. @defaultValue 300000 */
    HTTP_REQUEST_TIMEOUT_MS: positiveInt(300_000, 3_600_000),
    /** The request headers must arrive within it (from the connection's first byte), or 408. @defaultValue 10000 */
    HTTP_HEADERS_TIMEOUT_MS: positiveInt(10_000, 3_600_000),
    /** How long a connection may sit idle between two requests before it is closed. @defaultValue 5000 */
    HTTP_KEEP_ALIVE_TIMEOUT_MS: positiveInt(5_000, 3_600_000),
    /** A connection with no traffic either way for this long is closed (a stalled body gets a 408). @defaultValue 30000 */
    HTTP_IDLE_TIMEOUT_MS: positiveInt(30_000, 3_600_000),
    /**
     * Event streams (`GET /v1/jobs/{id}/events`) one tenant may hold open on one API process; one
     * more is answered 429. @defaultValue 1000
     */
    EVENT_STREAMS_PER_TENANT: positiveInt(1_000, 1_000_000),
    /** Open connections per API process; one more is answered 503 and closed. @defaultValue 10000 */
    HTTP_MAX_CONNECTIONS: positiveInt(10_000, 1_000_000),
    /**
     * Open connections one client address may hold per API process (0: no such limit — behind a proxy
     * every connection comes from the proxy's address: limit there instead). @defaultValue 1000
     */
    HTTP_MAX_CONNECTIONS_PER_IP: nonNegativeInt(1_000, 1_000_000),
    /** Traces: the standard OTEL_* variables (otel-env.ts). */
    ...OTEL_ENV,
  })
  .superRefine((env, ctx) => {
    if (env.REDIS_SENTINELS && env.REDIS_CLUSTER) {
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_SENTINELS'],
        message: 'cannot be used with REDIS_CLUSTER=true: a Redis Cluster fails over by itself',
      });
    }
    if ((env.AWS_ACCESS_KEY_ID === undefined) !== (env.AWS_SECRET_ACCESS_KEY === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [env.AWS_ACCESS_KEY_ID === undefined ? 'AWS_ACCESS_KEY_ID' : 'AWS_SECRET_ACCESS_KEY'],
        message: 'must be set together with the other half of the key pair',
      });
    }
    const tenantKeys = new Set((env.RENDERQ_API_KEYS ?? []).map((entry) => entry.key));
    if (env.RENDERQ_ADMIN_KEYS.some((key) => tenantKeys.has(key))) {
      ctx.addIssue({
        code: 'custom',
        path: ['RENDERQ_ADMIN_KEYS'],
        message: 'must not repeat a tenant key from RENDERQ_API_KEYS (a key is a tenant or an operator)',
      });
    }
    if (env.TENANT_ENQUEUE_RATE > 0 && env.TENANT_ENQUEUE_BURST < MAX_BATCH_JOBS) {
      ctx.addIssue({
        code: 'custom',
        path: ['TENANT_ENQUEUE_BURST'],
        message: `must be at least ${MAX_BATCH_JOBS} (the largest batch) while TENANT_ENQUEUE_RATE is on (got ${env.TENANT_ENQUEUE_BURST})`,
      });
    }
    // Node refuses a headers timeout longer than the request timeout it is part of.
    if (env.HTTP_HEADERS_TIMEOUT_MS > env.HTTP_REQUEST_TIMEOUT_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['HTTP_HEADERS_TIMEOUT_MS'],
        message: `must not exceed HTTP_REQUEST_TIMEOUT_MS (${env.HTTP_REQUEST_TIMEOUT_MS}; got ${env.HTTP_HEADERS_TIMEOUT_MS})`,
      });
    }
    if (env.NODE_ENV === 'production' && env.RENDERQ_API_KEYS === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['RENDERQ_API_KEYS'],
        message: 'is required when NODE_ENV=production',
      });
    }
  });

export type Env = z.output<typeof EnvSchema>;

/** Every variable renderq reads: deployment files are checked against it (infra/test). */
export const SETTING_NAMES: readonly string[] = Object.keys(EnvSchema.shape);

/** One rule with receivers (@renderq/contract's): the client's WebhookVerifier accepts exactly the secrets accepted here. */
function isWebhookSecret(value: string): boolean {
  return webhookSecretProblem(value) === null;
}
