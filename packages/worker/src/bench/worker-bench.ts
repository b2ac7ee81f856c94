/**
 * `pnpm bench` (worker): prints
 *  1. the RSS of one worker process (50 submit + 50 poll slots) while it follows
 *     5,000 Segmind requests in flight, each taking 20 s at the emulator;
 *  2. the median polls per job, after warm-up, with a fixed latency per model.
 * Real Redis (its own), the emulator in this process, the worker as a child
 * process, outputs to files.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEmulator } from '@renderq/segmind-emulator';
import { createRedis, JobStore, type NewJob, QUEUE_NAMES, queueOptions } from '@renderq/shared';
import { freePort, startRedis, uniqueName } from '@renderq/testing';
import { Queue } from 'bullmq';
import { spawnWorker } from '../testing.js';

const print = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const INFLIGHT = Number(process.env.BENCH_INFLIGHT ?? 5_000);
const LATENCY_S = 20;

const redisServer = await startRedis({ own: true });
const dir = await mkdtemp(path.join(tmpdir(), 'renderq-bench-'));
const emulator = await startEmulator({ latencyJitter: 0, gpusPerModel: 100_000, credits: 1e9 });
const redis = createRedis(redisServer.url, 'worker');

async function runPhase<T>(name: string, body: (ctx: Phase) => Promise<T>): Promise<T> {
  const prefix = uniqueName(name);
  const queue = new Queue(QUEUE_NAMES.render, queueOptions(redis, prefix));
  const store = new JobStore({ redis, queue, prefix });
  const metricsPort = await freePort();
  const { child, metricsUrl } = await spawnWorker({
    env: {
      REDIS_URL: redisServer.url,
      RENDERQ_PREFIX: prefix,
      SEGMIND_BASE_URL: emulator.url,
      SEGMIND_API_KEY: emulator.apiKey,
      STORAGE_URL: `file://${dir}/${name}`,
      WORKER_METRICS_PORT: String(metricsPort),
      WORKER_CONCURRENCY: '50',
      WORKER_POLL_CONCURRENCY: '50',
      SEGMIND_MAX_INFLIGHT: '100000',
      LOG_LEVEL: 'error',
    },
  });
  try {
    return await body({ store, child, metricsUrl });
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    await queue.close();
  }
}

interface Phase {
  readonly store: JobStore;
  readonly child: ChildProcess;
  readonly metricsUrl: string;
}

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

async function waitFinished(store: JobStore, batchId: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await store.getBatch(batchId))?.finished_at) {
    if (Date.now() > deadline) throw new Error(`batch ${batchId} did not finish in ${timeoutMs} ms`);
    await sleep(250);
  }
}

const job = (model: string, extra: Record<string, unknown> = {}): NewJob => ({
  tenant: 'bench',
  model,
  input: { prompt: 'benchmark render', ...extra },
});

// 1. 5,000 requests in flight at 20 s each (SD3.5 Turbo, 64×64 outputs: cheap to render and store).
emulator.configure({ latencyScale: LATENCY_S / 3 });
await runPhase('inflight', async ({ store, child }) => {
  const idle = await rssMiB(child.pid as number);
  const started = Date.now();
  const sd35 = { sampler: 'euler', scheduler: 'karras', width: 64, height: 64 };
  const { batch } = await store.createBatch(
    { tenant: 'bench' },
    Array.from({ length: INFLIGHT }, () => job('stable-diffusion-3.5-turbo-txt2img', sd35)),
  );
  let peak = idle;
  let peakInflight = 0;
  while (!(await store.getBatch(batch.id))?.finished_at) {
    const stats = emulator.stats().requests;
    peakInflight = Math.max(peakInflight, stats.queued + stats.processing);
    peak = Math.max(peak, await rssMiB(child.pid as number));
    await sleep(500);
    if (Date.now() - started > 300_000) throw new Error('phase 1 did not finish in 5 minutes');
  }
  const seconds = (Date.now() - started) / 1000;
  print('Worker following Segmind requests in flight (one process, 50 submit + 50 poll slots)');
  print(`  requests in flight at once: ${peakInflight} (emulator latency ${LATENCY_S} s)`);
  print(`  worker RSS: ${idle.toFixed(0)} MiB idle, ${peak.toFixed(0)} MiB at most while following them`);
  print(`  ${INFLIGHT} jobs completed in ${seconds.toFixed(1)} s`);
});

// 2. Polls per job with a fixed latency per model, after warm-up.
emulator.configure({ latencyScale: 0.5 });
const models = [
  'segmind-vega-rt-v1',
  'segmind-vega',
  'ssd-img2img',
  'stable-diffusion-3.5-turbo-txt2img',
  'sd1.5-img2img',
];
const sd35 = { sampler: 'euler', scheduler: 'karras', width: 64, height: 64 };
const inputImage = await emulatorImageUrl();
const inputs: Record<string, Record<string, unknown>> = {
  'ssd-img2img': { image: inputImage },
  'stable-diffusion-3.5-turbo-txt2img': sd35,
  'sd1.5-img2img': { image: inputImage },
};
await runPhase('polls', async ({ store, metricsUrl }) => {
  const batchOf = (perModel: number) =>
    models.flatMap((model) => Array.from({ length: perModel }, () => job(model, inputs[model] ?? {})));
  const warm = await store.createBatch({ tenant: 'bench' }, batchOf(15));
  await waitFinished(store, warm.batch.id, 120_000);
  const before = await pollBuckets(metricsUrl);
  const measured = await store.createBatch({ tenant: 'bench' }, batchOf(60));
  await waitFinished(store, measured.batch.id, 240_000);
  const after = await pollBuckets(metricsUrl);
  const delta = new Map([...after].map(([le, count]) => [le, count - (before.get(le) ?? 0)]));
  const total = delta.get('+Inf') ?? 0;
  const median = [...delta].find(([, count]) => count >= total / 2)?.[0];
  const completed = (await store.getBatch(measured.batch.id))?.counts.completed;
  print('Polls per job, fixed latency per model, after warm-up');
  print(`  ${total} jobs measured (${completed} completed) across ${models.length} models`);
  print(`  median polls per job: ≤ ${median}`);
  print(`  distribution (polls ≤ n: jobs): ${[...delta].map(([le, n]) => `${le}:${n}`).join(' ')}`);
});

/** An image the img2img model can fetch: the output of a request made at the emulator. */
async function emulatorImageUrl(): Promise<string> {
  const submitted = await fetch(`${emulator.url}/v2/segmind-vega-rt-v1`, {
    method: 'POST',
    headers: { 'x-api-key': emulator.apiKey, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'an input image' }),
  });
  const { response_url } = (await submitted.json()) as { response_url: string };
  for (;;) {
    const result = (await (await fetch(response_url, { headers: { 'x-api-key': emulator.apiKey } })).json()) as {
      status: string;
      output?: string;
    };
    if (result.status === 'COMPLETED' && result.output) return result.output;
    await sleep(200);
  }
}

/** Cumulative counts of renderq_segmind_polls_per_job by bucket, summed over models. */
async function pollBuckets(metricsUrl: string): Promise<Map<string, number>> {
  const text = await (await fetch(metricsUrl)).text();
  const buckets = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^renderq_segmind_polls_per_job_bucket\{le="([^"]+)".*\} (\d+)/.exec(line);
    if (match) buckets.set(match[1] as string, (buckets.get(match[1] as string) ?? 0) + Number(match[2]));
  }
  return buckets;
}

redis.disconnect();
await emulator.close();
await redisServer.stop();
await rm(dir, { recursive: true, force: true });
