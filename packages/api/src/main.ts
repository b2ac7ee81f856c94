/** `pnpm start:api`: the enqueue API as a process of its own. */
import {
  createLogger,
  createMetrics,
  createRedis,
  exitOnSignals,
  loadConfigOrExit,
  openStorage,
  warnIfRedisMayLoseJobs,
} from '@renderq/shared';
import { buildApp } from './app.js';

const config = loadConfigOrExit(process.env);
const logger = createLogger({ level: config.logLevel, name: 'renderq-api', secrets: config.secrets });
if (!config.api.tenants) {
  logger.warn('RENDERQ_API_KEYS is unset: the API accepts requests without a key (never do this in production)');
}
const redis = createRedis(config.redis.url, 'client', 'renderq-api');
redis.on('error', (error) => logger.error({ err: error }, 'Redis connection error'));
const storage = openStorage(config.storage);
const metrics = createMetrics();
const app = await buildApp({ config, logger, redis, metrics });

await app.listen({ host: config.api.host, port: config.api.port });
logger.info({ url: config.api.publicBaseUrl, storage: storage.description }, 'renderq API listening');
void warnIfRedisMayLoseJobs(redis, logger).catch((error: unknown) =>
  logger.warn({ err: error }, 'could not check Redis durability'),
);

exitOnSignals(logger, async () => {
  await app.close();
  await storage.close();
  await redis.quit();
});
