/**
 * `pnpm start:worker`: a worker process. For now it connects to Redis, checks that
 * Redis will keep jobs, and serves /metrics and /healthz; the Segmind pipeline that
 * takes jobs arrives with the worker issue.
 */
import { bootProcess, createMetrics, exitOnSignals, openStorage } from '@renderq/shared';
import { startHealthServer } from './health-server.js';

const { config, logger, redis } = bootProcess('renderq-worker', 'worker', process.env);
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

exitOnSignals(logger, async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await storage.close();
  await redis.quit();
});
