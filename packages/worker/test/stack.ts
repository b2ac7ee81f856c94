// A whole renderq stack for integration tests: real Redis (its own, restartable),
// a real S3 server, the Segmind emulator, and workers as child processes.
import type { ChildProcess } from 'node:child_process';
import { type Emulator, type EmulatorOptions, startEmulator } from '@renderq/segmind-emulator';
import {
  createRedis,
  isFinal,
  type JobRecord,
  JobStore,
  loadConfig,
  type NewJob,
  openStorage,
  openWebhookQueue,
  PauseControl,
  QUEUE_NAMES,
  queueOptions,
  type Storage,
  type WebhookEventStore,
} from '@renderq/shared';
import { freePort, type RedisHandle, type S3Handle, startRedis, startS3, uniqueName } from '@renderq/testing';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { spawnWorker } from '../src/testing.js';

interface WorkerProcess {
  readonly child: ChildProcess;
  readonly metricsUrl: string;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
  /** Sums a counter over its labels from the worker's /metrics. */
  metric(name: string): Promise<number>;
  stop(): Promise<void>;
}

export interface Stack {
  readonly redisServer: RedisHandle;
  readonly s3: S3Handle;
  readonly emulator: Emulator;
  readonly redis: Redis;
  readonly prefix: string;
  readonly store: JobStore;
  readonly storage: Storage;
  readonly pause: PauseControl;
  /** The WEBHOOK_SECRET workers sign with. */
  readonly webhookSecret: string;
  /** The webhook events workers record, for reading their state. */
  readonly events: WebhookEventStore;
  startWorker(env?: Record<string, string>): Promise<WorkerProcess>;
  createJobs(jobs: readonly NewJob[]): Promise<string[]>;
  /** Waits until every job is final; returns their records. */
  waitForJobs(ids: readonly string[], timeoutMs?: number): Promise<JobRecord[]>;
  close(): Promise<void>;
}

export async function startStack(
  emulatorOptions: EmulatorOptions = {},
  { fairShare = false }: { readonly fairShare?: boolean } = {},
): Promise<Stack> {
  const [redisServer, s3, emulator] = await Promise.all([
    startRedis({ own: true }),
    startS3(),
    startEmulator({ latencyJitter: 0, gpusPerModel: 1000, ...emulatorOptions }),
  ]);
  const prefix = uniqueName('rq');
  const redis = createRedis(redisServer.url, 'worker');
  redis.on('error', () => {});
  const renderQueue = new Queue(QUEUE_NAMES.render, queueOptions(redis, prefix));
  // With fair share, jobs are created as the API makes them: into their tenants' ready sets.
  const webhooks = openWebhookQueue(redis, prefix);
  // Records webhook events as the API does (a budget warning at admission).
  const store = new JobStore({ redis, queue: renderQueue, prefix, fairShare, events: webhooks.events });
  const storageEnv = s3.env('outputs');
  const storage = openStorage(loadConfig(storageEnv).storage);
  const workers: WorkerProcess[] = [];

  return {
    redisServer,
    s3,
    emulator,
    redis,
    prefix,
    store,
    storage,
    pause: new PauseControl(redis, prefix, renderQueue),
    webhookSecret: WEBHOOK_SECRET,
    events: webhooks.events,
    async startWorker(env = {}) {
      const metricsPort = await freePort();
      const { child, metricsUrl, output, exited } = await spawnWorker({
        env: {
          REDIS_URL: redisServer.url,
          RENDERQ_PREFIX: prefix,
          SEGMIND_BASE_URL: emulator.url,
          SEGMIND_API_KEY: emulator.apiKey,
          WORKER_METRICS_PORT: String(metricsPort),
          WORKER_LOCK_DURATION_MS: '3000',
          LOG_LEVEL: 'warn',
          WEBHOOK_SECRET,
          // Test receivers listen on 127.0.0.1.
          WEBHOOK_ALLOW_PRIVATE: 'true',
          ...storageEnv,
          ...env,
        },
        captureOutput: true,
      });
      const worker: WorkerProcess = {
        child,
        metricsUrl,
        output,
        exited,
        async metric(name) {
          const text = await (await fetch(metricsUrl)).text();
          return text
            .split('\n')
            .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
            .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
        },
        async stop() {
          if (child.exitCode === null && child.signalCode === null) {
            child.kill('SIGTERM');
            await exited;
          }
        },
      };
      workers.push(worker);
      return worker;
    },
    async createJobs(jobs) {
      if (jobs.length === 1) return [(await store.create(jobs[0] as NewJob)).id];
      const { jobIds, enqueued } = await store.createBatch({ tenant: jobs[0]?.tenant ?? 'test' }, jobs);
      await enqueued;
      return jobIds;
    },
    async waitForJobs(ids, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const records = await Promise.all(ids.map((id) => store.get(id)));
        const pending = records.filter((r) => !r || !isFinal(r.stage.name));
        if (pending.length === 0) return records as JobRecord[];
        if (Date.now() > deadline) {
          throw new Error(`${pending.length} jobs not finished, e.g. ${JSON.stringify(pending[0]?.stage)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    },
    async close() {
      await Promise.all(workers.map((worker) => worker.stop()));
      await Promise.all([renderQueue.close(), webhooks.queue.close()]);
      redis.disconnect();
      await storage.close();
      await Promise.all([emulator.close(), s3.stop(), redisServer.stop()]);
    },
  };
}

const WEBHOOK_SECRET = `whsec_${Buffer.from('renderq test webhook secret, 32 b').toString('base64')}`;

/** A job for `model` whose prompt carries a marker the emulator counts submits by. */
export function jobFor(model: string, marker: string, extra: Record<string, unknown> = {}): NewJob {
  const inputs: Record<string, Record<string, unknown>> = {
    'segmind-vega-rt-v1': { num_inference_steps: 4, seed: -1 },
    'segmind-vega': { samples: 1, seed: -1 },
    'ssd-img2img': { image: SMALL_PNG, strength: 0.5, seed: -1 },
    'stable-diffusion-3.5-turbo-txt2img': {
      sampler: 'euler',
      scheduler: 'karras',
      width: 64,
      height: 64,
      batch_size: 2,
    },
    'sd1.5-img2img': { image: SMALL_PNG, seed: -1 },
  };
  return {
    tenant: 'test',
    model,
    input: { prompt: `marker:${marker} a test render`, ...inputs[model], ...extra },
  };
}

export const MODELS = [
  'segmind-vega-rt-v1',
  'segmind-vega',
  'ssd-img2img',
  'stable-diffusion-3.5-turbo-txt2img',
  'sd1.5-img2img',
] as const;

/** A 64×64 PNG, base64. */
export const SMALL_PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAEAAAABACAIAAAAlC+aJAAAACXBIWXMAAAPoAAAD6AG1e1JrAAAAn0lEQVRoge2SQQkAQRDD6imeKm5Vnoh7hIFCBKSh4fU00Q3YgOoV2YV6l+gGbED1iuxCvUt0AzagekV2od4lugEbUL0iu1DvEt2ADahekV2od4luwAZUr8gu1LtEN2ADqldkF+pdohuwAdUrsgv1LtEN2IDqFdmFepfoBmxA9YrsQr1LdAM2oHpFdqHeJboBG1C9IrtQ7xLdgA2oXvEPH4sRMS34XATrAAAAAElFTkSuQmCC';
