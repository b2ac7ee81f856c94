/**
 * `pnpm bench` (webhooks): prints how many webhooks one worker process delivers per
 * second to a receiver that answers at once, and the time from a job finishing to its
 * webhook arriving (median and 99th percentile). Real Redis (its own), the worker as a
 * child process, `BENCH_WEBHOOKS` jobs finished at once (default 5,000).
 */
import { createRedis, JobStore, openWebhookQueue, QUEUE_NAMES, queueOptions } from '@renderq/shared';
import { freePort, startRedis, startWebhookReceiver, uniqueName } from '@renderq/testing';
import { Queue } from 'bullmq';
import { spawnWorker } from '../testing.js';

const print = (line: string) => process.stdout.write(`${line}\n`);
const COUNT = Number(process.env.BENCH_WEBHOOKS ?? 5_000);
const SECRET = `whsec_${Buffer.from('renderq webhook benchmark secret!').toString('base64')}`;

const redisServer = await startRedis({ own: true });
const receiver = await startWebhookReceiver();
const redis = createRedis(redisServer.url, 'worker');
const prefix = uniqueName('hooks');
const queue = new Queue(QUEUE_NAMES.render, queueOptions(redis, prefix));
const webhooks = openWebhookQueue(redis, prefix);
const store = new JobStore({ redis, queue, prefix, events: webhooks.events });

// Records first, so that only the finishing (and the deliveries) are timed; the worker is not
// started yet, so nothing is submitted anywhere.
const ids: string[] = [];
for (let i = 0; i < COUNT; i += 500) {
  const { jobIds, enqueued } = await store.createBatch(
    { tenant: 'bench', webhookUrl: `${receiver.url}/hooks`, webhookEvents: ['job.cancelled'] },
    Array.from({ length: Math.min(500, COUNT - i) }, () => ({
      tenant: 'bench',
      model: 'segmind-vega',
      input: { prompt: 'a webhook benchmark' },
    })),
  );
  await enqueued;
  ids.push(...jobIds);
}
await queue.drain();

const metricsPort = await freePort();
const { child } = await spawnWorker({
  env: {
    REDIS_URL: redisServer.url,
    RENDERQ_PREFIX: prefix,
    // Never called: the render queue is empty.
    SEGMIND_BASE_URL: 'http://127.0.0.1:9',
    SEGMIND_API_KEY: 'unused',
    STORAGE_URL: 'file:///tmp/renderq-webhook-bench',
    WORKER_METRICS_PORT: String(metricsPort),
    WEBHOOK_SECRET: SECRET,
    WEBHOOK_ALLOW_PRIVATE: 'true',
    LOG_LEVEL: 'error',
  },
});

const finishedAt = new Map<string, number>();
const started = performance.now();
for (let i = 0; i < ids.length; i += 200) {
  await Promise.all(
    ids.slice(i, i + 200).map(async (id) => {
      finishedAt.set(`evt_${id}_cancelled`, Date.now());
      await store.transition(id, 'cancel', { name: 'cancelled' });
    }),
  );
}
const finishing = performance.now() - started;
await receiver.waitFor(COUNT, () => true, 600_000);
const elapsed = (performance.now() - started) / 1000;
const latencies = receiver.received
  .map((hook) => hook.at - (finishedAt.get(String(hook.headers['webhook-id'])) ?? hook.at))
  .sort((a, b) => a - b);
const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;

print(`webhooks: ${COUNT} jobs finished in ${(finishing / 1000).toFixed(1)} s`);
print(
  `webhooks: one worker delivered ${receiver.received.length} webhooks in ${elapsed.toFixed(1)} s: ` +
    `${Math.round(receiver.received.length / elapsed)} per second (WEBHOOK_CONCURRENCY 50)`,
);
print(`webhooks: job finished → webhook received: median ${at(0.5)} ms, p99 ${at(0.99)} ms`);

child.kill('SIGTERM');
await new Promise((resolve) => child.once('exit', resolve));
await Promise.all([queue.close(), webhooks.queue.close(), receiver.close()]);
redis.disconnect();
await redisServer.stop();
