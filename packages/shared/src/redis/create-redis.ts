/**
 * ioredis connections fit for BullMQ — to one Redis, to the master Redis Sentinel names
 * (REDIS_SENTINELS), or to a Redis Cluster (REDIS_CLUSTER) — and the start-up check that Redis will keep what it is given
 * (AOF on, no eviction): a Redis that evicts or forgets keys loses jobs silently.
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';

export type RedisRole =
  /** Commands that may wait for Redis to come back (BullMQ workers need this). */
  | 'worker'
  /** Request-path commands that should fail fast while Redis is down (the API). */
  | 'client';

/** BullMQ blocks up to 10 s waiting for a job (and watches that itself): a worker's timeout must be longer. */
const WORKER_MIN_COMMAND_TIMEOUT_MS = 15_000;

/**
 * A connection to one Redis or to a Redis Cluster: every module takes either. On a cluster
 * RENDERQ_PREFIX must be a hash tag (`{renderq}`), so that all keys share one slot.
 */
export type RedisConnection = Redis | Cluster;

/** One Redis (tests and tools); processes pass REDIS_CLUSTER as `cluster`. */
export function createRedis(
  url: string,
  role: RedisRole,
  name?: string,
  commandTimeoutMs?: number,
  cluster?: false,
): Redis;
export function createRedis(
  url: string,
  role: RedisRole,
  name: string,
  commandTimeoutMs: number,
  cluster: boolean,
): RedisConnection;
export function createRedis(
  url: string,
  role: RedisRole,
  name = 'renderq',
  /** How long a command may wait for its answer (REDIS_COMMAND_TIMEOUT_MS): a frozen Redis fails, never hangs. */
  commandTimeoutMs = 5_000,
  /** REDIS_CLUSTER: `url` is one node of a Redis Cluster, from which the client learns the others. */
  cluster = false,
): RedisConnection {
  const options = connectionOptions(role, name, commandTimeoutMs);
  if (!cluster) return new Redis(url, options);
  const seed = new URL(url);
  return new Cluster([{ host: seed.hostname, port: Number(seed.port || 6379) }], {
    redisOptions: {
      ...options,
      ...(seed.username ? { username: decodeURIComponent(seed.username) } : {}),
      ...(seed.password ? { password: decodeURIComponent(seed.password) } : {}),
      ...(seed.protocol === 'rediss:' ? { tls: {} } : {}),
    },
    enableAutoPipelining: options.enableAutoPipelining,
    enableOfflineQueue: true,
    clusterRetryStrategy: (times) => Math.min(times * 200, 5_000),
  });
}

/** Where Redis is, as the configuration says (config.redis). */
export interface RedisTarget {
  readonly url: string;
  readonly cluster?: true;
  readonly sentinel?: {
    readonly sentinels: readonly { readonly host: string; readonly port: number }[];
    readonly master: string;
    readonly password?: string;
  };
  readonly commandTimeoutMs: number;
}

/**
 * The connection a process makes from its configuration. Behind Sentinel, ioredis asks the
 * sentinels for the master whenever the connection drops, or a write finds it demoted (READONLY):
 * every copy of the connection, BullMQ's blocking ones included, follows the new master. ioredis's
 * failoverDetector is left off: a failover it announced while a reconnect was under way left the
 * connection closed for good (measured with ioredis 6.0).
 */
export function connectRedis(target: RedisTarget, role: RedisRole, name: string): RedisConnection {
  if (!target.sentinel) return createRedis(target.url, role, name, target.commandTimeoutMs, target.cluster ?? false);
  const master = new URL(target.url);
  const database = Number(master.pathname.slice(1) || 0);
  return new Redis({
    ...connectionOptions(role, name, target.commandTimeoutMs),
    sentinels: target.sentinel.sentinels.map(({ host, port }) => ({ host, port })),
    name: target.sentinel.master,
    role: 'master',
    // A master demoted by a failover (SENTINEL FAILOVER) keeps its connections: its READONLY answer
    // sends the client back to the sentinels, and the write is sent again to the new master.
    reconnectOnError: (error: Error) => (error.message.startsWith('READONLY') ? 2 : false),
    ...(target.sentinel.password ? { sentinelPassword: target.sentinel.password } : {}),
    ...(master.username ? { username: decodeURIComponent(master.username) } : {}),
    ...(master.password ? { password: decodeURIComponent(master.password) } : {}),
    ...(Number.isInteger(database) && database > 0 ? { db: database } : {}),
    // rediss://: TLS to the master (ioredis's enableTLSForSentinelMode is what applies `tls` to it).
    ...(master.protocol === 'rediss:' ? { tls: {}, enableTLSForSentinelMode: true } : {}),
    // The sentinels are asked again quickly while a failover is under way.
    sentinelRetryStrategy: (times: number) => Math.min(times * 200, 2_000),
  });
}

function connectionOptions(role: RedisRole, name: string, commandTimeoutMs: number): RedisOptions {
  return {
    connectionName: name,
    // BullMQ requires null on worker connections: its blocking commands must not be cut off.
    maxRetriesPerRequest: role === 'worker' ? null : 3,
    // Also bounds commands waiting in the offline queue while Redis is unreachable.
    commandTimeout: role === 'worker' ? Math.max(commandTimeoutMs, WORKER_MIN_COMMAND_TIMEOUT_MS) : commandTimeoutMs,
    enableOfflineQueue: true,
    // Many concurrent requests each sending a few commands: one round trip carries them all.
    enableAutoPipelining: false,
    retryStrategy: (times) => Math.min(times * 200, 5_000),
  };
}

/**
 * A second connection like `redis`, with ioredis auto-pipelining on or off: commands issued in
 * the same tick then go to Redis in one write. Worth it for renderq's own commands, which come
 * many at a time from concurrent steps and requests; not for BullMQ's, since a pipelined batch
 * copies every script defined on its connection and BullMQ defines ~65 (and a worker's blocking
 * fetch must not wait in a pipeline).
 */
export function connectionCopy(redis: RedisConnection, autoPipelining: boolean, name?: string): RedisConnection {
  const named = name ? { connectionName: name } : {};
  return redis instanceof Cluster
    ? redis.duplicate([], {
        enableAutoPipelining: autoPipelining,
        redisOptions: { ...redis.options.redisOptions, ...named },
      })
    : redis.duplicate({ enableAutoPipelining: autoPipelining, ...named });
}

/** Whether Redis answers a PING within `deadlineMs`, and if not, why (for readiness checks). */
export async function pingWithin(
  redis: RedisConnection,
  deadlineMs: number,
): Promise<{ readonly ok: true } | { readonly ok: false; readonly reason: string }> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`Redis did not answer within ${deadlineMs} ms`), deadlineMs);
  });
  try {
    const answer = await Promise.race([
      redis.ping().then(
        () => undefined,
        (error: unknown) => `Redis does not answer: ${(error as Error).message}`,
      ),
      deadline,
    ]);
    return answer === undefined ? { ok: true } : { ok: false, reason: answer };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Whether an error means Redis could not be reached or did not answer in time (as opposed to a
 * script or data error): callers answer such errors with "unavailable, try again".
 */
export function isRedisUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'MaxRetriesPerRequestError') return true;
  const code = (error as NodeJS.ErrnoException).code;
  if (code && ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTCONN', 'EHOSTUNREACH'].includes(code))
    return true;
  return /^(Command timed out|Connection is closed|Stream isn't writeable|Reached the max retries per request limit)/.test(
    error.message,
  );
}

export interface RedisDurability {
  readonly maxmemoryPolicy: string | undefined;
  readonly appendonly: string | undefined;
  readonly warnings: readonly string[];
}

/** Reads the settings that decide whether jobs can be lost; CONFIG may be disabled on managed Redis. */
export async function checkRedisDurability(redis: RedisConnection): Promise<RedisDurability> {
  let maxmemoryPolicy: string | undefined;
  let appendonly: string | undefined;
  try {
    maxmemoryPolicy = configValue(await redis.config('GET', 'maxmemory-policy'));
    appendonly = configValue(await redis.config('GET', 'appendonly'));
  } catch (error) {
    return {
      maxmemoryPolicy,
      appendonly,
      warnings: [
        `could not read Redis configuration (${(error as Error).message}); make sure AOF is on and maxmemory-policy is noeviction`,
      ],
    };
  }
  const warnings: string[] = [];
  if (maxmemoryPolicy !== undefined && maxmemoryPolicy !== 'noeviction') {
    warnings.push(
      `Redis maxmemory-policy is "${maxmemoryPolicy}": jobs may be evicted under memory pressure; set it to noeviction`,
    );
  }
  if (appendonly !== undefined && appendonly !== 'yes') {
    warnings.push(
      'Redis appendonly is off: jobs accepted since the last snapshot are lost if Redis restarts; turn AOF on',
    );
  }
  return { maxmemoryPolicy, appendonly, warnings };
}

export async function warnIfRedisMayLoseJobs(redis: RedisConnection, logger: Logger): Promise<void> {
  const { warnings, maxmemoryPolicy, appendonly } = await checkRedisDurability(redis);
  for (const warning of warnings) logger.warn({ maxmemoryPolicy, appendonly }, warning);
}

function configValue(reply: unknown): string | undefined {
  return Array.isArray(reply) && typeof reply[1] === 'string' ? reply[1] : undefined;
}

/**
 * Closes a connection at shutdown. One already closed (BullMQ may close shared
 * connections as its workers stop) is what we wanted anyway, not a failure.
 */
export async function closeRedis(redis: RedisConnection, timeoutMs = 2_000): Promise<void> {
  // A function, not a narrowed value: the status changes while this waits.
  const isEnded = () => redis.status === 'end';
  if (isEnded()) return;
  // Returns once the socket has really closed, not when QUIT is merely answered.
  const ended = new Promise<void>((resolve) => redis.once('end', () => resolve()));
  const quit = redis.quit().catch(() => redis.disconnect());
  // A connection that cannot answer (Redis gone, the client reconnecting: QUIT would wait in its
  // offline queue forever) is cut instead of waited for.
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  await Promise.race([Promise.all([quit, ended]), bound]);
  clearTimeout(timer);
  // Cutting it stops any reconnecting; a socket already gone emits no 'end', so none is awaited.
  if (!isEnded()) redis.disconnect();
}
