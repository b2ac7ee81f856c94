// renderq behind Redis Sentinel: a master, a replica and three sentinels; the API (in this process) and
// two workers (child processes) with REDIS_SENTINELS. The master is SIGKILLed under a 500-job batch; the
// sentinels promote the replica, and every process follows it: no job is lost, none is submitted twice,
// and the workers take jobs again within 30 s.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildApp } from '@renderq/api';
import { RenderqClient } from '@renderq/client';
import { type Emulator, startEmulator } from '@renderq/segmind-emulator';
import { closeRedis, connectRedis, createMetrics, loadConfig, type RedisConnection } from '@renderq/shared';
import { freePort, uniqueName } from '@renderq/testing';
import { spawnWorker, type WorkerChild } from '@renderq/worker/testing';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { MASTER_NAME, type SentinelGroup, sentinelUnavailable, startSentinelGroup } from './redis-sentinel.js';

const API_KEY = 'sentinel-key-0123456789';
const JOBS = 500;
const unavailable = sentinelUnavailable();

let group: SentinelGroup | undefined;
let emulator: Emulator | undefined;
let redis: RedisConnection | undefined;
let app: FastifyInstance | undefined;
const workers: WorkerChild[] = [];
let dir: string | undefined;

afterAll(async () => {
  await Promise.all(
    workers.map(async (worker) => {
      if (worker.child.exitCode === null) {
        worker.child.kill('SIGTERM');
        await worker.exited;
      }
    }),
  );
  await app?.close();
  if (redis) await closeRedis(redis);
  await emulator?.close();
  await group?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(unavailable)(`renderq behind Redis Sentinel${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  it('follows a failover of a master killed under 500 jobs: none lost, none submitted twice, workers back within 30 s', async () => {
    [group, emulator] = await Promise.all([
      startSentinelGroup(),
      startEmulator({ latencyScale: 0.05, latencyJitter: 0, gpusPerModel: 1000 }),
    ]);
    dir = await mkdtemp(path.join(tmpdir(), 'renderq-sentinel-e2e-'));
    const port = await freePort();
    const env = {
      REDIS_SENTINELS: group.sentinels,
      REDIS_SENTINEL_MASTER: MASTER_NAME,
      RENDERQ_PREFIX: uniqueName('sentinel'),
      RENDERQ_API_KEYS: `acme:${API_KEY}`,
      STORAGE_URL: `file://${dir}`,
      PORT: String(port),
      SEGMIND_BASE_URL: emulator.url,
      SEGMIND_API_KEY: emulator.apiKey,
      OUTPUT_LINK_SECRET: 'sentinel output link secret 0123456789',
      LOG_LEVEL: 'error',
    };
    const config = loadConfig(env);
    redis = connectRedis(config.redis, 'client', 'api');
    redis.on('error', () => {});
    app = await buildApp({
      config,
      logger: pino({ level: 'silent' }),
      redis,
      metrics: createMetrics({ processMetrics: false }),
    });
    await app.listen({ host: '127.0.0.1', port });
    for (let i = 0; i < 2; i++) {
      workers.push(
        await spawnWorker({ env: { ...env, WORKER_METRICS_PORT: String(await freePort()) }, captureOutput: true }),
      );
    }
    const client = new RenderqClient({ baseUrl: `http://127.0.0.1:${port}`, apiKey: API_KEY });
    const batch = await client.createBatch({
      jobs: Array.from({ length: JOBS }, (_, i) => ({
        model: 'segmind-vega-rt-v1',
        input: { prompt: `marker:sentinel-${i} a harbour`, num_inference_steps: 4 },
      })),
    });

    // Killed under load: some done, most still to do.
    let doneBeforeKill = 0;
    for (let i = 0; i < 1200 && doneBeforeKill < JOBS / 5; i++) {
      const counts = (await client.getBatch(batch.id)).counts;
      doneBeforeKill = counts.completed + counts.failed;
      await sleep(50);
    }
    const oldMaster = await group.killMaster();
    const killedAt = Date.now();

    // Taking jobs again: more finished than before the kill (the API reads through the new master too).
    let resumedAfterMs: number | undefined;
    let final = (await client.getBatch(batch.id).catch(() => undefined))?.status;
    const deadline = Date.now() + 180_000;
    while (Date.now() < deadline) {
      const read = await client.getBatch(batch.id).catch(() => undefined);
      if (read) {
        const done = read.counts.completed + read.counts.failed;
        if (resumedAfterMs === undefined && done > doneBeforeKill) resumedAfterMs = Date.now() - killedAt;
        final = read.status;
        if (read.finished_at) break;
      }
      await sleep(200);
    }
    const result = await client.getBatch(batch.id);
    const newMaster = await group.masterPort();
    const submits = Object.values(emulator.stats().submits.byMarker);
    const failed = await client.listJobs({ status: 'failed', limit: 100 });
    process.stdout.write(
      `sentinel failover (master :${oldMaster} killed after ${doneBeforeKill} of ${JOBS} jobs, :${newMaster} promoted): ` +
        `jobs taken again ${((resumedAfterMs ?? Number.NaN) / 1000).toFixed(1)} s after the kill; ` +
        `${result.counts.completed} completed, ${result.counts.failed} failed ` +
        `(${[...new Set(failed.jobs.map((job) => job.error?.code))].join(', ') || 'none'}); ` +
        `${submits.length} submitted, ${submits.filter((n) => n > 1).length} twice\n`,
    );
    expect(newMaster).not.toBe(oldMaster);
    expect(final).not.toBe('running');
    // Nothing lost: every job of the batch ended.
    expect(result.counts.total).toBe(JOBS);
    expect(result.counts.completed + result.counts.failed).toBe(JOBS);
    // Nothing paid twice: each job's request was accepted at most once.
    expect(submits.every((n) => n === 1)).toBe(true);
    expect(submits.length).toBeLessThanOrEqual(JOBS);
    // Only a submit whose answer a failover swallowed may fail (as ambiguous, never sent again).
    expect(failed.jobs.every((job) => job.error?.code === 'segmind_ambiguous_submit')).toBe(true);
    expect(resumedAfterMs).toBeLessThan(30_000);
  }, 300_000);
});
