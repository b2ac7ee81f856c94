/**
 * End to end: one batch through API → worker → emulator (latency 0, benchmark images)
 * → file storage, against a raw BullMQ four-pass job on the same Redis. Jobs/s, and
 * CPU per job by process — the emulator's shown apart, as it is not renderq's. renderq runs
 * twice, with fair share (the default) and without: what fair share costs a lone tenant.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { uniqueName } from '@renderq/testing';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import {
  CpuMeter,
  commandsPerJob,
  cpuMs,
  redisCommandCalls,
  type Stack,
  sleep,
  spawnScript,
  startApi,
  startWorker,
  stopChild,
  workerEnv,
} from '../processes.js';
import { openStore, postBatch, waitBatchFinished } from '../renderq.js';
import type { Row } from '../table.js';

const SECTION = 'end to end';

/** The batch each run sends first, not measured. */
const WARM_UP_JOBS = 200;

export interface RenderqRun {
  readonly seconds: number;
  readonly cpu: Record<string, number>;
  readonly commands: ReturnType<typeof commandsPerJob>;
  /** CPU ms of the API and the worker from their start to the end of the warm-up. */
  readonly startCpuMs: number;
  /** Jobs of every batch it ran: the warm-up, the measured one and any it ran to keep busy beside its pair. */
  readonly allJobs: number;
}

export async function endToEnd(stack: Stack, jobs: number): Promise<Row[]> {
  await stack.emulator.configure({ latencyScale: 0, latencyJitter: 0 });
  // Off first: a run that goes second finds the machine a little warmer.
  const unfair = await renderqRun(stack, jobs, { FAIR_SHARE: 'false' });
  const { seconds, cpu, commands } = await renderqRun(stack, jobs, { FAIR_SHARE: 'true' });
  const raw = await rawFourPass(stack, jobs);
  const perJob = (ms: number | undefined) => (ms ?? Number.NaN) / jobs;
  const renderqCpu = perJob((cpu.api ?? 0) + (cpu.worker ?? 0) + (cpu.redis ?? 0));
  const rawCpu = perJob((raw.cpu.worker ?? 0) + (raw.cpu.redis ?? 0));
  const rate = jobs / seconds;
  const unfairRate = jobs / unfair.seconds;
  const name = 'raw BullMQ 4-pass';
  return [
    {
      section: SECTION,
      metric: `jobs/s (batch of ${jobs})`,
      renderq: rate,
      baseline: raw.rate,
      baselineName: name,
      target: '≥ 0.3× baseline',
      met: rate >= 0.3 * raw.rate,
    },
    {
      section: SECTION,
      metric: `jobs/s with fair share (batch of ${jobs})`,
      renderq: rate,
      baseline: unfairRate,
      baselineName: 'renderq, FAIR_SHARE=false',
      target: '≥ 0.95× baseline',
      met: rate >= 0.95 * unfairRate,
    },
    {
      section: SECTION,
      metric: 'CPU ms/job, API + worker + Redis',
      renderq: renderqCpu,
      baseline: rawCpu,
      baselineName: `${name}: worker + Redis`,
      target: '≤ 2× baseline',
      met: renderqCpu <= 2 * rawCpu,
    },
    {
      section: SECTION,
      metric: 'CPU ms/job, worker',
      renderq: perJob(cpu.worker),
      baseline: perJob(raw.cpu.worker),
      baselineName: `${name} worker`,
    },
    {
      section: SECTION,
      metric: 'CPU ms/job, Redis',
      renderq: perJob(cpu.redis),
      baseline: perJob(raw.cpu.redis),
      baselineName: `${name} Redis`,
    },
    { section: SECTION, metric: 'CPU ms/job, API', renderq: perJob(cpu.api) },
    {
      section: SECTION,
      metric: 'Redis commands/job (scripts and what they run)',
      renderq: commands.total,
      baseline: raw.commands.total,
      baselineName: name,
      note: `renderq: ${commands.top}; raw: ${raw.commands.top}`,
    },
    {
      section: SECTION,
      metric: 'CPU ms/job, emulator (not renderq)',
      renderq: perJob(cpu.emulator),
      note: 'the Segmind emulator in benchmark mode; shown so that it is not mistaken for renderq',
    },
  ];
}

/**
 * Two runs measured side by side (the tracing section's pairs): both measured batches start together,
 * and the run that finishes first keeps its renderq busy until the other has finished, so that each
 * batch runs beside a busy partner all through. Without this the slower run's last jobs ran on a
 * quieter machine, which made it look cheaper.
 */
export class RunPair {
  readonly #warmedUp = new Barrier(2);
  readonly #measured = new Barrier(2);

  /** Resolves once both runs have warmed up. */
  warmedUp(): Promise<void> {
    return this.#warmedUp.arrive();
  }

  /** Resolves once both runs have measured their batch. */
  measured(): Promise<void> {
    return this.#measured.arrive();
  }
}

/** Resolves every `arrive()` once `parties` calls have come. */
class Barrier {
  #waiting: (() => void)[] = [];
  readonly #parties: number;

  constructor(parties: number) {
    this.#parties = parties;
  }

  arrive(): Promise<void> {
    return new Promise((resolve) => {
      this.#waiting.push(resolve);
      if (this.#waiting.length < this.#parties) return;
      for (const each of this.#waiting) each();
      this.#waiting = [];
    });
  }
}

/** Jobs a run that finished first keeps posting, a batch at a time, while its partner still measures. */
const FILLER_JOBS = 100;

/**
 * One batch through renderq after a warm-up of `warmUpJobs`: the wall time, CPU by process and Redis
 * commands per job. `env` goes to both the API and the worker; `pair`, when given, times the batch
 * with another run's.
 */
export async function renderqRun(
  stack: Stack,
  jobs: number,
  env: Record<string, string>,
  warmUpJobs = WARM_UP_JOBS,
  pair?: RunPair,
): Promise<RenderqRun> {
  const prefix = uniqueName('e2e');
  const api = await startApi(stack, prefix, env);
  const worker = await startWorker(workerEnv(stack, prefix, env));
  const { store, redis, close } = openStore(stack.redis.url, prefix);
  try {
    // Warm-up: connections, JIT, and the poll schedule learns that the model answers at once.
    await waitBatchFinished(store, await postBatch(api.url, warmUpJobs), 120_000 + warmUpJobs * 100);
    const startCpuMs = cpuMs(api.child.pid as number) + cpuMs(worker.child.pid as number);
    await pair?.warmedUp();
    const meter = new CpuMeter({
      api: api.child.pid as number,
      worker: worker.child.pid as number,
      redis: stack.redis.pid,
      emulator: stack.emulator.pid,
    });
    const callsBefore = await redisCommandCalls(redis);
    const started = performance.now();
    await waitBatchFinished(store, await postBatch(api.url, jobs), 600_000);
    const seconds = (performance.now() - started) / 1000;
    const cpu = meter.stop();
    // Includes the progress polls of this process (a few per second): small beside the jobs' own.
    const commands = commandsPerJob(callsBefore, await redisCommandCalls(redis), jobs);
    let allJobs = warmUpJobs + jobs;
    if (pair) {
      let partnerDone = false;
      const bothMeasured = pair.measured().then(() => {
        partnerDone = true;
      });
      // The second to finish sees its partner done here, and posts no batch for nothing.
      await sleep(0);
      while (!partnerDone) {
        await waitBatchFinished(store, await postBatch(api.url, FILLER_JOBS), 120_000);
        allJobs += FILLER_JOBS;
      }
      await bothMeasured;
    }
    return { seconds, cpu, commands, startCpuMs, allJobs };
  } finally {
    await Promise.all([api.stop(), stopChild(worker.child), close()]);
    // Its outputs are not read again: a section of many runs leaves no hundred thousand files behind.
    await rm(path.join(stack.storageDir, prefix), { recursive: true, force: true });
  }
}

async function rawFourPass(
  stack: Stack,
  jobs: number,
): Promise<{ rate: number; cpu: Record<string, number>; commands: ReturnType<typeof commandsPerJob> }> {
  const prefix = uniqueName('raw');
  const connection = new Redis(stack.redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue('raw', { connection, prefix });
  const child = spawnScript('raw-worker.js', {
    REDIS_URL: stack.redis.url,
    RAW_PREFIX: prefix,
    RAW_QUEUE: 'raw',
    RAW_CONCURRENCY: '50',
  });
  try {
    const run = async (count: number) => {
      const before = await queue.getCompletedCount();
      const started = performance.now();
      for (let i = 0; i < count; i += 1000) {
        await queue.addBulk(
          Array.from({ length: Math.min(1000, count - i) }, (_, j) => ({
            name: 'raw',
            data: { jobId: `job_${i + j}` },
            opts: { removeOnComplete: { age: 3_600, count: 100_000 } },
          })),
        );
      }
      for (;;) {
        const done = (await queue.getCompletedCount()) - before;
        if (done >= count) break;
        await sleep(50);
      }
      return (performance.now() - started) / 1000;
    };
    await sleep(500);
    await run(200);
    await queue.clean(0, 100_000, 'completed');
    const meter = new CpuMeter({ worker: child.pid as number, redis: stack.redis.pid });
    const callsBefore = await redisCommandCalls(connection);
    const seconds = await run(jobs);
    const cpu = meter.stop();
    return {
      rate: jobs / seconds,
      cpu,
      commands: commandsPerJob(callsBefore, await redisCommandCalls(connection), jobs),
    };
  } finally {
    await stopChild(child);
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    connection.disconnect();
  }
}
