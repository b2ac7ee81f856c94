/**
 * What every renderq process does first: read the configuration (or exit with one
 * line), make its logger, connect to Redis, and warn when Redis may lose jobs.
 */

import type { Logger } from 'pino';
import { type Config, loadConfigOrExit } from '../config/config.js';
import { createLogger } from '../observability/logger.js';
import type { RedisConnection } from '../redis/create-redis.js';
import { createRedis, type RedisRole, warnIfRedisMayLoseJobs } from '../redis/create-redis.js';

export interface BootedProcess {
  readonly config: Config;
  readonly logger: Logger;
  readonly redis: RedisConnection;
}

export function bootProcess(
  name: string,
  role: RedisRole,
  env: Readonly<Record<string, string | undefined>>,
): BootedProcess {
  const config = loadConfigOrExit(env);
  const logger = createLogger({ level: config.logLevel, name, secrets: config.secrets });
  const redis = createRedis(config.redis.url, role, name, config.redis.commandTimeoutMs, config.redis.cluster ?? false);
  redis.on('error', (error) => logger.error({ err: error }, 'Redis connection error'));
  void warnIfRedisMayLoseJobs(redis, logger).catch((error: unknown) =>
    logger.warn({ err: error }, 'could not check Redis durability'),
  );
  return { config, logger, redis };
}
