/**
 * `pnpm start:worker`: a worker process. For now it connects to Redis, checks that
 * Redis will keep jobs, and serves /metrics and /healthz; the Segmind pipeline that
 * takes jobs arrives with the worker issue.
 */
import {
  createLogger,
  createMetrics,
  createRedis,
  exitOnSignals,
  loadConfigOrExit,
  openStorage,
  warnIfRedisMayLoseJobs,
} from '@renderq/shared';
import { startHealthServer } from './health-server.js';

const config = loadConfigOrExit(process.env);
const logger = createLogger({ level: config.logLevel, name: 'renderq-worker', secrets: config.secrets });
const redis = createRedis(config.redis.url, 'worker', 'renderq-worker');
redis.on('error', (error) => logger.error({ err: error }, 'Redis connection error'));
const storage = openStorage(config.storage);
const metrics = createMetrics();

const server = await startHealthServer({
  host: config.api.host,
  port: config.worker.metricsPort,
  metrics,
  health: () => ({ redis: redis.status }),
});
logger.info(
  { metricsPort: config.worker.metricsPort, segmind: config.segmind.baseUrl, storage: storage.description },
  'renderq worker started',
);
void warnIfRedisMayLoseJobs(redis, logger).catch((error: unknown) =>
  logger.warn({ err: error }, 'could not check Redis durability'),
);

exitOnSignals(logger, async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await storage.close();
  await redis.quit();
});
