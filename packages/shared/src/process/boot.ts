/**
 * What every renderq process does first: read the configuration with its own rules
 * (or exit with one line), make its logger, connect to Redis, and warn when Redis may
 * lose jobs.
 */

import type { Logger } from 'pino';
import { type Config, loadConfigOrExit, type ProcessRole, type WorkerConfig } from '../config/config.js';
import { createLogger, logFormatFor } from '../observability/logger.js';
import type { RedisConnection } from '../redis/create-redis.js';
import { connectRedis, type RedisRole, warnIfRedisMayLoseJobs } from '../redis/create-redis.js';

interface BootedProcess<C extends Config = Config> {
  readonly config: C;
  readonly logger: Logger;
  readonly redis: RedisConnection;
}

/** The Redis connection each kind of process needs. */
const REDIS_ROLE: Readonly<Record<ProcessRole, RedisRole>> = { api: 'client', worker: 'worker' };

export function bootProcess(
  name: string,
  role: 'worker',
  env: Readonly<Record<string, string | undefined>>,
): BootedProcess<WorkerConfig>;
export function bootProcess(
  name: string,
  role: ProcessRole,
  env: Readonly<Record<string, string | undefined>>,
): BootedProcess;
export function bootProcess(
  name: string,
  role: ProcessRole,
  env: Readonly<Record<string, string | undefined>>,
): BootedProcess {
  const config = loadConfigOrExit(env, { role });
  const logger = createLogger({
    level: config.logLevel,
    name,
    secrets: config.secrets,
    format: logFormatFor(config.logFormat, process.stdout.isTTY === true),
  });
  const redis = connectRedis(config.redis, REDIS_ROLE[role], name);
  redis.on('error', (error) => logger.error({ err: error }, 'Redis connection error'));
  void warnIfRedisMayLoseJobs(redis, logger).catch((error: unknown) =>
    logger.warn({ err: error }, 'could not check Redis durability'),
  );
  return { config, logger, redis };
}
