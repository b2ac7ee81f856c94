/**
 * Requests in flight: one worker follows N Segmind requests that each take the same
 * latency (30 s in a full run). Its peak RSS, its CPU per job from submit to stored
 * output, and Redis memory per job while all N are at Segmind — against the bytes a
 * raw BullMQ delayed job takes in the same Redis.
 */
import { uniqueName } from '@renderq/testing';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { cpuMs, rssMiB, type Stack, sleep, startWorker, stopChild, workerEnv } from '../processes.js';
import { benchJob, openStore } from '../renderq.js';
import type { Row } from '../table.js';

const SECTION = 'in flight, one worker';
/** The bench model's median latency at the emulator, scaled to the latency asked for. */
const MODEL_MEDIAN_MS = 3_000;

export async function inflight(stack: Stack, counts: readonly number[], latencyMs: number): Promise<Row[]> {
  await stack.emulator.configure({ latencyScale: latencyMs / MODEL_MEDIAN_MS, latencyJitter: 0 });
  const prefix = uniqueName('inflight');
  const worker = await startWorker(workerEnv(stack, prefix));
  const pid = worker.child.pid as number;
  const { store, redis, close } = openStore(stack.redis.url, prefix);
  const rows: Row[] = [];
  const idle = rssMiB(pid);
  try {
    for (const count of counts) {
      const usedBefore = await usedMemory(redis);
      const acceptedBefore = (await stack.emulator.stats()).submits.accepted;
      const cpuBefore = cpuMs(pid);
      const started = Date.now();
      const batchIds: string[] = [];
      for (let i = 0; i < count; i += 1000) {
        const jobs = Array.from({ length: Math.min(1000, count - i) }, (_, j) => benchJob(i + j));
        const created = await store.createBatch({ tenant: 'bench' }, jobs);
        await created.enqueued;
        batchIds.push(created.batch.id);
      }
      let peak = idle;
      let perJobRedis = Number.NaN;
      let inflightAtOnce = 0;
      for (;;) {
        peak = Math.max(peak, rssMiB(pid));
        const stats = await stack.emulator.stats();
        inflightAtOnce = Math.max(inflightAtOnce, stats.requests.queued + stats.requests.processing);
        if (Number.isNaN(perJobRedis) && stats.submits.accepted - acceptedBefore >= count) {
          perJobRedis = ((await usedMemory(redis)) - usedBefore) / count;
        }
        if (await allFinished(store, batchIds)) break;
        if (Date.now() - started > latencyMs + 600_000) throw new Error(`${count} in flight did not finish`);
        await sleep(500);
      }
      const cpuPerJob = (cpuMs(pid) - cpuBefore) / count;
      const label = `${count.toLocaleString('en-US')} at ${latencyMs / 1000} s`;
      const rawBytes = await rawDelayedJobBytes(stack, count);
      rows.push(
        {
          section: SECTION,
          metric: `${label}: worker RSS MiB (peak)`,
          renderq: peak,
          baseline: idle,
          baselineName: 'the same worker idle',
          target: count >= 10_000 ? '≤ 250 MB' : undefined,
          met: count >= 10_000 ? peak * 1.048576 <= 250 : undefined,
          note:
            inflightAtOnce < count
              ? `at most ${inflightAtOnce} were at Segmind at once (submits did not keep ahead of completions)`
              : undefined,
        },
        { section: SECTION, metric: `${label}: worker CPU ms/job`, renderq: cpuPerJob },
        {
          section: SECTION,
          metric: `${label}: Redis bytes/job in flight`,
          renderq: perJobRedis,
          baseline: rawBytes,
          baselineName: 'raw BullMQ delayed job',
          target: '≤ 3 KB',
          met: perJobRedis <= 3 * 1024,
        },
      );
    }
  } finally {
    await stopChild(worker.child);
    await close();
  }
  return rows;
}

async function allFinished(
  store: ReturnType<typeof openStore>['store'],
  batchIds: readonly string[],
): Promise<boolean> {
  for (const id of batchIds) if (!(await store.getBatch(id))?.finished_at) return false;
  return true;
}

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? Number.NaN);
}

/** Redis bytes per raw BullMQ job waiting as delayed (30 s), the same number of them. */
async function rawDelayedJobBytes(stack: Stack, count: number): Promise<number> {
  const connection = new Redis(stack.redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue('raw-delayed', { connection, prefix: uniqueName('raw') });
  try {
    const before = await usedMemory(connection);
    for (let i = 0; i < count; i += 1000) {
      await queue.addBulk(
        Array.from({ length: Math.min(1000, count - i) }, (_, j) => ({
          name: 'poll',
          data: { jobId: `job_${i + j}` },
          opts: { delay: 30_000, jobId: `job_${i + j}` },
        })),
      );
    }
    return ((await usedMemory(connection)) - before) / count;
  } finally {
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    connection.disconnect();
  }
}
