import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config/config.js';
import { EnvSchema } from '../src/config/env-schema.js';
import { loadConfig } from '../src/index.js';

function errorOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies every default of docs/configuration.md to an empty environment', () => {
    const config = loadConfig({});
    expect(config.redis).toEqual({ url: 'redis://127.0.0.1:6379', prefix: 'renderq', commandTimeoutMs: 5000 });
    expect(config.api.host).toBe('127.0.0.1');
    expect(config.api.port).toBe(8080);
    expect(config.api.publicBaseUrl).toBe('http://127.0.0.1:8080');
    expect(config.api.tenants).toBeUndefined();
    expect(config.worker).toEqual({
      metricsPort: 9464,
      concurrency: 20,
      pollConcurrency: 50,
      lockDurationMs: 6_000,
      // Twice the poll cap and the lock duration, plus 10 s.
      reconcileAfterMs: 52_000,
      jobDeadlineMs: 600_000,
      outageWaitMs: 3_600_000,
      resultRetentionMs: 3_600_000,
      ambiguousSubmitPolicy: 'fail',
      // Twice the lock duration.
      ambiguousSubmitWaitMs: 12_000,
      pollMaxIntervalMs: 15_000,
      pollLagShare: 0.1,
      creditsCheckIntervalMs: 30_000,
      outputMaxBytes: 100 * 1024 * 1024,
      stallMs: 60_000,
    });
    expect(config.segmind).toEqual({
      apiKey: undefined,
      baseUrl: 'https://api.segmind.com',
      maxInflight: 1000,
      timeoutMs: 30_000,
      rateLimit: undefined,
    });
    expect(config.storage).toMatchObject({ kind: 'file' });
    expect(config.webhooks).toEqual({
      secret: undefined,
      secrets: [],
      allowPrivate: false,
      // Svix's schedule after an immediate first attempt: about 27 h in all.
      retryDelaysMs: [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000],
      timeoutMs: 15_000,
      concurrency: 200,
      hostFailureThreshold: 10,
    });
    expect(config.jobs.retentionMs).toBe(7 * 24 * 3600 * 1000);
    expect(config.api.http).toEqual({
      requestTimeoutMs: 300_000,
      headersTimeoutMs: 10_000,
      keepAliveTimeoutMs: 5_000,
      idleTimeoutMs: 30_000,
      maxConnections: 10_000,
      maxConnectionsPerIp: 1_000,
    });
    expect(config.api.batchUploads).toEqual({ concurrency: 4, perTenant: 2, waitMs: 5_000, minBytesPerSecond: 16_384 });
    expect(config.api.enqueueRate).toEqual({ perSecond: 1_000, burst: 20_000 });
  });

  it('takes a burst below the largest batch only while the enqueue rate is off', () => {
    const error = errorOf({ TENANT_ENQUEUE_BURST: '5000' });
    expect(error.message).toBe(
      'TENANT_ENQUEUE_BURST must be at least 10000 (the largest batch) while TENANT_ENQUEUE_RATE is on (got 5000)',
    );
    expect(loadConfig({ TENANT_ENQUEUE_RATE: '0', TENANT_ENQUEUE_BURST: '5000' }).api.enqueueRate).toEqual({
      perSecond: 0,
      burst: 5_000,
    });
  });

  it("reads tenants' own backlog quotas, any tenant name a plain key, and names a malformed entry", () => {
    const { backlogQuota } = loadConfig({ TENANT_BACKLOG_QUOTAS: 'acme:200000, trial:0,constructor:7' }).api;
    expect(backlogQuota.perTenant).toBe(50_000);
    expect({ ...backlogQuota.tenants }).toEqual({ acme: 200_000, trial: 0, constructor: 7 });
    // Nothing inherited answers for a tenant with no entry.
    expect(Object.hasOwn(backlogQuota.tenants, 'toString')).toBe(false);
    expect(backlogQuota.tenants.toString).toBeUndefined();
    expect(errorOf({ TENANT_BACKLOG_QUOTAS: 'acme:5,globex' }).message).toContain('entry 2 must be tenant:jobs');
  });

  it('reads spend budgets and model prices in USD, and names what is malformed', () => {
    const config = loadConfig({
      TENANT_DAILY_BUDGET_USD: '25',
      TENANT_DAILY_BUDGETS_USD: 'acme:250.50,trial:0',
      TENANT_MONTHLY_BUDGETS_USD: 'acme:5000',
      MODEL_PRICES_USD: 'segmind-vega:0.0025, flux-schnell:0.003',
    });
    expect(config.api.spendBudgets.daily.perTenant).toBe(25);
    expect({ ...config.api.spendBudgets.daily.tenants }).toEqual({ acme: 250.5, trial: 0 });
    expect(config.api.spendBudgets.monthly.perTenant).toBe(0);
    expect({ ...config.api.spendBudgets.monthly.tenants }).toEqual({ acme: 5_000 });
    expect({ ...config.models.pricesUsd }).toEqual({ 'segmind-vega': 0.0025, 'flux-schnell': 0.003 });
    expect(errorOf({ TENANT_DAILY_BUDGET_USD: '$25' }).message).toContain(
      'must be an amount in USD such as 25 or 12.50',
    );
    // Millionths are what the ledger counts: a seventh decimal would be rounded away unseen.
    expect(errorOf({ MODEL_PRICES_USD: 'segmind-vega:0.0000001' }).message).toContain(
      'entry 1 must be model:usd (a model name, then an amount in USD from 0 to 1000)',
    );
    expect(errorOf({ TENANT_MONTHLY_BUDGETS_USD: 'acme:-5' }).message).toContain('entry 1 must be tenant:usd');
  });

  it('parses an S3 storage URL with endpoint, path style and region', () => {
    const config = loadConfig({
      STORAGE_URL: 's3://outputs-bucket/renders/2026',
      S3_ENDPOINT: 'http://127.0.0.1:9000',
      S3_FORCE_PATH_STYLE: 'true',
      AWS_REGION: 'eu-west-1',
    });
    expect(config.storage).toEqual({
      kind: 's3',
      bucket: 'outputs-bucket',
      prefix: 'renders/2026',
      endpoint: 'http://127.0.0.1:9000',
      forcePathStyle: true,
      createBucket: false,
      region: 'eu-west-1',
      credentials: undefined,
    });
  });

  it('parses tenants and collects every secret for redaction', () => {
    const config = loadConfig({
      RENDERQ_API_KEYS: 'acme:key-acme-123456, globex:key-globex-654321',
      SEGMIND_API_KEY: 'sg_live_secret',
      WEBHOOK_SECRET: `whsec_${Buffer.alloc(32, 7).toString('base64')}`,
    });
    expect(config.api.tenants).toEqual([
      { tenant: 'acme', key: 'key-acme-123456' },
      { tenant: 'globex', key: 'key-globex-654321' },
    ]);
    expect(config.secrets).toContain('sg_live_secret');
    expect(config.secrets).toContain('key-globex-654321');
    expect(config.secrets.some((s) => s.startsWith('whsec_'))).toBe(true);
  });

  it('parses operator keys, keeps them apart from tenant keys, and redacts them', () => {
    const config = loadConfig({
      RENDERQ_API_KEYS: 'acme:key-acme-123456',
      RENDERQ_ADMIN_KEYS: 'ops-key-0123456789abcdef, ops-key-2-0123456789abcdef',
    });
    expect(config.api.operatorKeys).toEqual(['ops-key-0123456789abcdef', 'ops-key-2-0123456789abcdef']);
    expect(config.secrets).toContain('ops-key-2-0123456789abcdef');
    expect(loadConfig({}).api.operatorKeys).toEqual([]);
    const reused = errorOf({
      RENDERQ_API_KEYS: 'acme:key-acme-1234567890ab',
      RENDERQ_ADMIN_KEYS: 'key-acme-1234567890ab',
    });
    expect(reused.variables).toEqual(['RENDERQ_ADMIN_KEYS']);
    expect(reused.message).not.toContain('key-acme-1234567890ab');
  });

  it('takes several webhook secrets during a rotation, the first signing as the current one', () => {
    const next = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;
    const old = `whsec_${Buffer.alloc(32, 2).toString('base64')}`;
    const config = loadConfig({ WEBHOOK_SECRET: `${next}, ${old}` });
    expect(config.webhooks.secret).toBe(next);
    expect(config.webhooks.secrets).toEqual([next, old]);
    expect(config.secrets).toEqual(expect.arrayContaining([next, old]));
    expect(errorOf({ WEBHOOK_SECRET: `${next},nope` }).variables).toEqual(['WEBHOOK_SECRET']);
  });

  it("reads SEGMIND_RATE_LIMIT as a count per window, with or without the window's length", () => {
    const limit = (value: string) => loadConfig({ SEGMIND_RATE_LIMIT: value }).segmind.rateLimit;
    expect(limit('5/s')).toEqual({ count: 5, windowMs: 1_000 });
    expect(limit('50/min')).toEqual({ count: 50, windowMs: 60_000 });
    expect(limit('50/60s')).toEqual({ count: 50, windowMs: 60_000 });
    expect(limit('1000/h')).toEqual({ count: 1000, windowMs: 3_600_000 });
    expect(limit('500/5min')).toEqual({ count: 500, windowMs: 300_000 });
    for (const bad of ['5', '5/day', '0/s', '5/0s', 'five/s']) {
      expect(errorOf({ SEGMIND_RATE_LIMIT: bad }).variables).toEqual(['SEGMIND_RATE_LIMIT']);
    }
  });

  it('reads REDIS_SENTINELS as host:port entries with the master name, refused beside REDIS_CLUSTER', () => {
    const config = loadConfig({
      REDIS_SENTINELS: '10.0.0.1:26379, sentinel-b:26380,[::1]:26381',
      REDIS_SENTINEL_PASSWORD: 'sentinel-secret-123',
    });
    expect(config.redis.sentinel).toEqual({
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: 'sentinel-b', port: 26380 },
        { host: '::1', port: 26381 },
      ],
      master: 'mymaster',
      password: 'sentinel-secret-123',
    });
    expect(config.secrets).toContain('sentinel-secret-123');
    expect(loadConfig({ REDIS_SENTINELS: 'a:1', REDIS_SENTINEL_MASTER: 'main' }).redis.sentinel?.master).toBe('main');
    expect(loadConfig({}).redis.sentinel).toBeUndefined();
    for (const bad of ['a', 'a:', 'a:0', 'a:70000', 'a:1,,b:2', '[::1]']) {
      expect(errorOf({ REDIS_SENTINELS: bad }).variables).toEqual(['REDIS_SENTINELS']);
    }
    expect(errorOf({ REDIS_SENTINELS: 'a:1', REDIS_CLUSTER: 'true', RENDERQ_PREFIX: '{rq}' }).variables).toEqual([
      'REDIS_SENTINELS',
    ]);
  });

  it('is frozen', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config.api)).toBe(true);
  });

  it.each([
    [{ REDIS_URL: 'nonsense' }, 'REDIS_URL'],
    [{ REDIS_URL: 'http://127.0.0.1:6379' }, 'REDIS_URL'],
    [{ SEGMIND_BASE_URL: 'ftp://x' }, 'SEGMIND_BASE_URL'],
    [{ STORAGE_URL: 'gopher://x' }, 'STORAGE_URL'],
    [{ STORAGE_URL: 's3://Bad_Bucket/x' }, 'STORAGE_URL'],
    [{ PORT: '80a' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ WORKER_METRICS_PORT: '-1' }, 'WORKER_METRICS_PORT'],
    [{ S3_FORCE_PATH_STYLE: 'maybe' }, 'S3_FORCE_PATH_STYLE'],
    [{ S3_CREATE_BUCKET: 'sometimes' }, 'S3_CREATE_BUCKET'],
    [{ LOG_FORMAT: 'xml' }, 'LOG_FORMAT'],
    [{ STORAGE_CHECK_INTERVAL_MS: '0' }, 'STORAGE_CHECK_INTERVAL_MS'],
    [{ WEBHOOK_SECRET: 'not-a-secret' }, 'WEBHOOK_SECRET'],
    [{ WEBHOOK_ALLOW_PRIVATE: 'yes please' }, 'WEBHOOK_ALLOW_PRIVATE'],
    [{ WEBHOOK_RETRY_SCHEDULE: '5s,soon' }, 'WEBHOOK_RETRY_SCHEDULE'],
    [{ WEBHOOK_TIMEOUT_MS: '0' }, 'WEBHOOK_TIMEOUT_MS'],
    [{ TENANT_ENQUEUE_RATE: '-1' }, 'TENANT_ENQUEUE_RATE'],
    [{ BATCH_UPLOAD_CONCURRENCY: '0' }, 'BATCH_UPLOAD_CONCURRENCY'],
    [{ HTTP_MAX_CONNECTIONS: 'lots' }, 'HTTP_MAX_CONNECTIONS'],
    [{ HTTP_HEADERS_TIMEOUT_MS: '20000', HTTP_REQUEST_TIMEOUT_MS: '10000' }, 'HTTP_HEADERS_TIMEOUT_MS'],
    [{ RENDERQ_API_KEYS: 'no-colon-here' }, 'RENDERQ_API_KEYS'],
    [{ RENDERQ_API_KEYS: 'a:short' }, 'RENDERQ_API_KEYS'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ RENDERQ_ADMIN_KEYS: 'too-short' }, 'RENDERQ_ADMIN_KEYS'],
    [{ RENDERQ_ADMIN_KEYS: 'ops-key-0123456789abcdef,ops-key-0123456789abcdef' }, 'RENDERQ_ADMIN_KEYS'],
    [{ REDIS_COMMAND_TIMEOUT_MS: '0' }, 'REDIS_COMMAND_TIMEOUT_MS'],
    [{ NODE_ENV: 'production' }, 'RENDERQ_API_KEYS'],
    [{ AWS_ACCESS_KEY_ID: 'AKIA123' }, 'AWS_SECRET_ACCESS_KEY'],
    [{ AMBIGUOUS_SUBMIT_POLICY: 'sometimes' }, 'AMBIGUOUS_SUBMIT_POLICY'],
    [{ WORKER_CONCURRENCY: '0' }, 'WORKER_CONCURRENCY'],
    [{ JOB_DEADLINE_SECONDS: '1.5' }, 'JOB_DEADLINE_SECONDS'],
  ])('rejects %o naming %s in one line', (env, variable) => {
    const error = errorOf(env as Record<string, string>);
    expect(error.variables).toEqual([variable]);
    expect(error.message.startsWith(variable)).toBe(true);
    expect(error.message).not.toContain('\n');
  });

  it('names every bad variable in the same line', () => {
    const error = errorOf({ REDIS_URL: 'nonsense', PORT: 'x' });
    expect(error.variables).toEqual(['REDIS_URL', 'PORT']);
    expect(error.message).toMatch(/^REDIS_URL .*; PORT /);
  });

  it('never echoes an API key in its message', () => {
    const error = errorOf({ RENDERQ_API_KEYS: 'good:key-good-123456,bad' });
    expect(error.message).not.toContain('key-good-123456');
  });
});

describe("each process's own rules", () => {
  it('a worker needs SEGMIND_API_KEY when it parses its configuration; the API and the launcher do not', () => {
    let error: unknown;
    try {
      loadConfig({}, { role: 'worker' });
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variables).toEqual(['SEGMIND_API_KEY']);
    expect((error as ConfigError).message).toMatch(/^SEGMIND_API_KEY is required to run a worker/);
    expect(loadConfig({ SEGMIND_API_KEY: 'sg-key' }, { role: 'worker' }).segmind.apiKey).toBe('sg-key');
    expect(loadConfig({}, { role: 'api' }).segmind.apiKey).toBeUndefined();
    expect(loadConfig({}).segmind.apiKey).toBeUndefined();
  });
});

describe('units', () => {
  it('holds every duration in milliseconds, whatever unit its variable is given in', () => {
    const config = loadConfig({
      OUTPUT_LINK_TTL_SECONDS: '60',
      JOB_DEADLINE_SECONDS: '2',
      JOB_RETENTION_DAYS: '1',
      WEBHOOK_TIMEOUT_MS: '1500',
    });
    expect(config.api.outputLinkTtlMs).toBe(60_000);
    expect(config.worker.jobDeadlineMs).toBe(2_000);
    expect(config.jobs.retentionMs).toBe(86_400_000);
    expect(config.webhooks.timeoutMs).toBe(1_500);
  });

  it('names no duration of the configuration in another unit than milliseconds', () => {
    const keys: string[] = [];
    const collect = (value: unknown, at: string) => {
      if (!value || typeof value !== 'object' || Array.isArray(value)) return;
      for (const [key, inner] of Object.entries(value)) {
        keys.push(`${at}${key}`);
        collect(inner, `${at}${key}.`);
      }
    };
    collect(loadConfig({ SEGMIND_API_KEY: 'sg-key' }), '');
    expect(keys.length).toBeGreaterThan(40);
    expect(keys.filter((key) => /(Seconds|Minutes|Hours|Days|Ttl|Timeout|Interval|Deadline)$/.test(key))).toEqual([]);
  });
});

describe('WORKER_RECONCILE_AFTER_MS', () => {
  it('follows the poll cap and lock duration when unset, and takes a value of its own', () => {
    expect(
      loadConfig({ POLL_MAX_INTERVAL_SECONDS: '1', WORKER_LOCK_DURATION_MS: '3000' }).worker.reconcileAfterMs,
    ).toBe(18_000);
    expect(loadConfig({ WORKER_RECONCILE_AFTER_MS: '1000' }).worker.reconcileAfterMs).toBe(1_000);
    expect(errorOf({ WORKER_RECONCILE_AFTER_MS: '0' }).message).toContain('WORKER_RECONCILE_AFTER_MS');
  });
});

describe('docs/configuration.md', () => {
  it('documents every variable the schema reads', () => {
    const docs = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
    const missing = Object.keys(EnvSchema.shape).filter((variable) => !docs.includes(`\`${variable}\``));
    expect(missing).toEqual([]);
  });

  /** The main table's rows: the variables each names, and its default column as written. */
  const variableRows = () =>
    readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .map((line) => {
        const [variables = '', defaults = ''] = line
          .split('|')
          .slice(1, 3)
          .map((cell) => cell.trim());
        return { names: [...variables.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1] as string), defaults };
      });

  it('documents no variable the schema does not read', () => {
    const read = Object.keys(EnvSchema.shape);
    const documented = variableRows().flatMap((row) => row.names);
    expect(documented.length).toBeGreaterThan(50);
    expect(documented.filter((variable) => !read.includes(variable))).toEqual([]);
  });

  it("gives each variable's default as the schema (or loadConfig, deriving it) has it", () => {
    const defaults = EnvSchema.parse({}) as Record<string, unknown>;
    const s3 = loadConfig({ STORAGE_URL: 's3://bucket' }).storage;
    const DERIVED: Record<string, unknown> = {
      PUBLIC_BASE_URL: loadConfig({ HOST: 'HOST', PORT: '1' }).api.publicBaseUrl.replace(':1', ':PORT'),
      AWS_REGION: s3.kind === 's3' ? s3.region : undefined,
    };
    const wrong: string[] = [];
    for (const { names, defaults: written } of variableRows()) {
      // "`127.0.0.1`, `8080`" for HOST, PORT; "—" for none; one value for AWS_REGION / AWS_DEFAULT_REGION.
      const each = written.split(/,\s*/).map((part) => part.trim());
      names.forEach((name, i) => {
        const doc = each.length === names.length ? each[i] : i === 0 ? written : undefined;
        const value = name in DERIVED ? DERIVED[name] : defaults[name];
        if (doc === undefined || !/^(`[^`]*`|—)$/.test(doc)) return; // derived or explained in words
        const expected = value === undefined || (Array.isArray(value) && value.length === 0) ? '—' : `\`${value}\``;
        if (typeof value === 'object' && !Array.isArray(value)) return;
        if (Array.isArray(value) && value.length > 0) return; // a list parsed from its text, such as the retry schedule
        if (doc !== expected) wrong.push(`${name}: docs say ${doc}, the schema ${expected}`);
      });
    }
    expect(wrong).toEqual([]);
  });

  it('gives the unit of every variable that names one in its Units table', () => {
    const docs = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
    const units = docs.slice(docs.indexOf('## Units'), docs.indexOf('\n## ', docs.indexOf('## Units') + 1));
    const named = Object.keys(EnvSchema.shape).filter((variable) =>
      /_(MS|SECONDS|DAYS|BYTES|PER_SECOND)$/.test(variable),
    );
    expect(named.length).toBeGreaterThan(10);
    expect(named.filter((variable) => !units.includes(`\`${variable}\``))).toEqual([]);
  });
});
