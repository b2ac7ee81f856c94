/** `pnpm start:api`: the enqueue API as a process of its own. */
import {
  bootProcess,
  closeRedis,
  createMetrics,
  exitOnSignals,
  openStorage,
  QUEUE_NAMES,
  queueOptions,
} from '@renderq/shared';
import { Queue } from 'bullmq';
import { buildApp } from './app.js';

const { config, logger, redis } = bootProcess('renderq-api', 'client', process.env);
if (!config.api.tenants) {
  logger.warn('RENDERQ_API_KEYS is unset: the API accepts requests without a key (never do this in production)');
}
const storage = openStorage(config.storage);
// Queue depths for renderq_queue_jobs, read when Prometheus scrapes.
const depths = [QUEUE_NAMES.render, QUEUE_NAMES.poll, QUEUE_NAMES.webhooks].map(
  (name) => new Queue(name, queueOptions(redis, config.redis.prefix)),
);
const metrics = createMetrics({
  queueCounts: async () =>
    Promise.all(depths.map(async (queue) => ({ queue: queue.name, counts: await queue.getJobCounts() }))),
});
const app = await buildApp({ config, logger, redis, metrics, storage });

await app.listen({ host: config.api.host, port: config.api.port });
logger.info({ url: config.api.publicBaseUrl, storage: storage.description }, 'renderq API listening');

exitOnSignals(logger, async () => {
  await app.close();
  await Promise.all(depths.map((queue) => queue.close()));
  await storage.close();
  await closeRedis(redis);
});
