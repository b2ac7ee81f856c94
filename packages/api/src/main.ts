/** `pnpm start:api`: the enqueue API as a process of its own. */
import {
  bootProcess,
  closeRedis,
  createMetrics,
  exitOnSignals,
  listenProblem,
  openStorage,
  startTracing,
} from '@renderq/shared';
import { buildApp } from './app.js';

const { config, logger, redis } = bootProcess('renderq-api', 'api', process.env);
if (!config.api.tenants) {
  logger.warn('RENDERQ_API_KEYS is unset: the API accepts requests without a key (never do this in production)');
}
const storage = openStorage(config.storage);
// Queue depths, credits and the pause are read from Redis when Prometheus scrapes (buildApp wires them).
const metrics = createMetrics({ role: 'api' });
// Off unless OTEL_* name an exporter (docs/observability.md).
const tracing = await startTracing(config.tracing, 'renderq-api');
const app = await buildApp({ config, logger, redis, metrics, storage, tracer: tracing.tracer });

try {
  await app.listen({ host: config.api.host, port: config.api.port });
} catch (error) {
  logger.fatal(listenProblem('PORT', config.api.host, config.api.port, error));
  await app.close();
  await closeRedis(redis);
  process.exit(1);
}
logger.info({ url: config.api.publicBaseUrl, storage: storage.description }, 'renderq API listening');

exitOnSignals(logger, async () => {
  await app.close();
  await storage.close();
  await closeRedis(redis);
  // Last: the spans of the requests that just finished go out with it.
  await tracing.shutdown();
});
