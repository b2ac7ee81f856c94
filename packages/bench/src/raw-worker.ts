/**
 * The baseline a renderq worker is compared with, run as a process of its own: a raw
 * BullMQ worker whose job does four passes — three `moveToDelayed` (due at once) and
 * `DelayedError`, then completes — the least a submit-then-poll job can cost in BullMQ.
 * Environment: REDIS_URL, RAW_PREFIX, RAW_QUEUE, RAW_CONCURRENCY.
 */
import { DelayedError, type Job, Worker } from 'bullmq';
import { Redis } from 'ioredis';

const connection = new Redis(process.env.REDIS_URL as string, { maxRetriesPerRequest: null });
const passes = new Map<string, number>();

const worker = new Worker(
  process.env.RAW_QUEUE as string,
  async (job: Job, token?: string) => {
    const pass = (passes.get(job.id as string) ?? 0) + 1;
    if (pass < 4) {
      passes.set(job.id as string, pass);
      await job.moveToDelayed(Date.now(), token);
      throw new DelayedError();
    }
    passes.delete(job.id as string);
  },
  {
    connection,
    prefix: process.env.RAW_PREFIX as string,
    concurrency: Number(process.env.RAW_CONCURRENCY ?? 50),
  },
);
worker.on('error', (error) => process.stderr.write(`raw worker: ${error.message}\n`));

process.on('SIGTERM', () => {
  void worker.close().then(() => {
    connection.disconnect();
    process.exit(0);
  });
});
