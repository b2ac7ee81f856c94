/** `pnpm start:worker`: a worker process; run as many as the load needs. */
import {
  bootProcess,
  closeRedis,
  exitOnSignals,
  listenProblem,
  openStorage,
  startTracing,
  timedPhase,
} from '@renderq/shared';
import { startHealthServer } from './health-server.js';
import { startWorker } from './start-worker.js';
import { workerHealth } from './worker-health.js';

// The worker's own rules (a Segmind key) are checked with the rest of its configuration.
const { config, logger, redis } = bootProcess('renderq-worker', 'worker', process.env);
const storage = openStorage(config.storage);
// Off unless OTEL_* name an exporter (docs/observability.md).
const tracing = await startTracing(config.tracing, 'renderq-worker');
const worker = await startWorker({ config, logger, redis, storage, tracer: tracing.tracer });

const server = await startHealthServer({
  host: config.api.host,
  port: config.worker.metricsPort,
  metrics: worker.metrics,
  health: () => workerHealth(redis, worker),
  readiness: () => {
    const storage = worker.storageStatus();
    return storage.ok ? { storage: 'ready' } : { storage: storage.problem, unavailable: 'storage' };
  },
}).catch(async (error: unknown) => {
  logger.fatal(listenProblem('WORKER_METRICS_PORT', config.api.host, config.worker.metricsPort, error));
  await worker.close();
  await closeRedis(redis);
  process.exit(1);
});
logger.info(
  {
    metricsPort: config.worker.metricsPort,
    segmind: config.segmind.baseUrl,
    storage: storage.description,
    concurrency: config.worker.concurrency,
    pollConcurrency: config.worker.pollConcurrency,
  },
  'renderq worker started',
);

exitOnSignals(logger, async () => {
  await worker.close();
  await timedPhase(logger, 'health server closed', async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // A scrape in progress is not worth waiting for.
    server.closeAllConnections();
    await closed;
  });
  await timedPhase(logger, 'storage closed', () => storage.close());
  await timedPhase(logger, 'Redis closed', () => closeRedis(redis));
  // Last: the spans of the steps that just finished go out with it.
  await timedPhase(logger, 'traces sent', () => tracing.shutdown());
});
