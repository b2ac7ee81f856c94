// The processes as users run them (built output, real signals): bad configuration,
// and `pnpm start`'s launcher with a private Redis.
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, realpath, rm } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { verifyWebhook } from '@renderq/client';
import { freePort, startRedis, startWebhookReceiver } from '@renderq/testing';
import { describe, expect, it } from 'vitest';
import { packagesDir as packages, run, waitFor } from './run-process.js';

const mains = {
  api: path.join(packages, 'api/dist/main.js'),
  worker: path.join(packages, 'worker/dist/main.js'),
  launcher: path.join(packages, 'launcher/dist/main.js'),
};

const listening = async (url: string) => (await fetch(url)).ok;

describe('bad configuration', () => {
  it.each([
    ['worker', { REDIS_URL: 'nonsense' }, 'REDIS_URL'],
    ['worker', { SEGMIND_BASE_URL: 'ftp://x' }, 'SEGMIND_BASE_URL'],
    ['api', { STORAGE_URL: 'gopher://x' }, 'STORAGE_URL'],
    ['api', { NODE_ENV: 'production' }, 'RENDERQ_API_KEYS'],
    ['api', { TENANT_ENQUEUE_BURST: '500' }, 'TENANT_ENQUEUE_BURST'],
    ['launcher', { PORT: 'eighty' }, 'PORT'],
  ] as const)('%s with %o exits 1 with one line naming %s', async (name, env, variable) => {
    const process_ = run(mains[name], env);
    expect(await process_.exited).toBe(1);
    const lines = process_.err().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(variable);
    expect(process_.err()).not.toMatch(/\bat .*\.js:\d+/);
    expect(process_.out()).toBe('');
  });
});

describe('a busy port', () => {
  async function occupy(): Promise<{ port: number; close: () => Promise<void> }> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return { port, close: () => new Promise((resolve) => server.close(() => resolve())) };
  }

  it.each([
    ['PORT', 'PORT'],
    ['WORKER_METRICS_PORT', 'WORKER_METRICS_PORT'],
    ['EMULATOR_PORT', 'EMULATOR_PORT'],
  ])('stops pnpm start with one line naming %s and its value, before anything starts', async (variable) => {
    const cwd = await mkdtemp(path.join(tmpdir(), 'renderq-busy-'));
    const busy = await occupy();
    const [redisPort, apiPort, metricsPort, emulatorPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    const env: Record<string, string> = {
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      PORT: String(apiPort),
      WORKER_METRICS_PORT: String(metricsPort),
      EMULATOR_PORT: String(emulatorPort),
      [variable]: String(busy.port),
    };
    try {
      const launcher = run(mains.launcher, env, cwd);
      expect(await launcher.exited).toBe(1);
      const lines = launcher.out().trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0] as string)).toMatchObject({
        level: 60,
        msg: `${variable}=${busy.port}: 127.0.0.1:${busy.port} is already in use (another renderq?); set ${variable} to a free port`,
      });
      expect(launcher.err()).toBe('');
      // Nothing was started: no private Redis, no data.
      await expect(readFile(path.join(cwd, 'data/webhook-secret'))).rejects.toThrow();
    } finally {
      await busy.close();
      await rm(cwd, { recursive: true, force: true });
    }
  });

  it('stops a worker started alone with one line naming WORKER_METRICS_PORT, having taken no job', async () => {
    const redis = await startRedis({ own: true });
    const busy = await occupy();
    try {
      const worker = run(mains.worker, {
        REDIS_URL: redis.url,
        SEGMIND_API_KEY: 'sg-test',
        SEGMIND_BASE_URL: 'http://127.0.0.1:9',
        WORKER_METRICS_PORT: String(busy.port),
        STORAGE_URL: `file://${path.join(tmpdir(), 'renderq-busy-worker')}`,
        LOG_LEVEL: 'warn',
      });
      expect(await worker.exited).toBe(1);
      const fatal = worker
        .out()
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { level: number; msg: string })
        .filter((line) => line.level >= 50);
      expect(fatal).toEqual([
        expect.objectContaining({
          msg: `WORKER_METRICS_PORT=${busy.port}: 127.0.0.1:${busy.port} is already in use (another renderq?); set WORKER_METRICS_PORT to a free port`,
        }),
      ]);
      expect(worker.out() + worker.err()).not.toMatch(/\bat .*\.js:\d+/);
    } finally {
      await busy.close();
      await redis.stop();
    }
  });
});

describe('the launcher (pnpm start)', () => {
  it('starts a private Redis when none answers, runs API and worker, and stops all of it on Ctrl-C', async () => {
    const cwd = await mkdtemp(path.join(tmpdir(), 'renderq-start-'));
    const [redisPort, apiPort, metricsPort, emulatorPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    const launcher = run(
      mains.launcher,
      {
        REDIS_URL: `redis://127.0.0.1:${redisPort}`,
        PORT: String(apiPort),
        WORKER_METRICS_PORT: String(metricsPort),
        EMULATOR_PORT: String(emulatorPort),
        STORAGE_URL: `file://${cwd}/outputs`,
        EMULATOR_LATENCY_SCALE: '0.05',
        LOG_LEVEL: 'info',
      },
      cwd,
    );
    let child: ChildProcess | undefined = launcher.child;
    const receiver = await startWebhookReceiver();
    try {
      // "running" comes once every process answers, with the addresses.
      await waitFor(async () => launcher.out().includes('renderq is running'), '"renderq is running"', 60_000);
      expect((await fetch(`http://127.0.0.1:${apiPort}/readyz`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).status).toBe(200);
      const running = JSON.parse(
        launcher
          .out()
          .split('\n')
          .find((line) => line.includes('renderq is running')) as string,
      );
      expect(running).toMatchObject({
        api: `http://127.0.0.1:${apiPort}`,
        docs: `http://127.0.0.1:${apiPort}/docs`,
        dashboard: `http://127.0.0.1:${apiPort}/admin/queues`,
        worker_metrics: `http://127.0.0.1:${metricsPort}/metrics`,
        segmind: `http://127.0.0.1:${emulatorPort}`,
      });
      expect(launcher.out()).toContain('started a private Redis');
      // No SEGMIND_API_KEY: the bundled emulator runs, and the worker is pointed at it.
      expect(launcher.out()).toContain('using the bundled Segmind emulator');
      const credits = await fetch(`http://127.0.0.1:${emulatorPort}/v1/get-user-credits`, {
        headers: { 'x-api-key': 'emulator-key' },
      });
      expect(credits.status).toBe(200);
      expect(launcher.out()).toContain(`"segmind":"http://127.0.0.1:${emulatorPort}"`);

      // Webhooks work out of the box: signed with a secret kept under ./data, sent to a local receiver.
      const created = await fetch(`http://127.0.0.1:${apiPort}/v1/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'segmind-vega-rt-v1', input: { prompt: 'a kite' }, webhook_url: receiver.url }),
      });
      expect(created.status).toBe(202);
      const [hook] = await receiver.waitFor(1, () => true, 30_000);
      const secret = (await readFile(path.join(cwd, 'data/webhook-secret'), 'utf8')).trim();
      expect(verifyWebhook(secret, hook?.headers as Record<string, string>, hook?.body as string)).toMatchObject({
        type: 'job.completed',
        data: { status: 'completed' },
      });

      // Ctrl-C: SIGINT to the whole foreground process group. The private Redis is not in it:
      // it stops last, so nothing that uses it sees it go.
      const interrupted = Date.now();
      process.kill(-(launcher.child.pid as number), 'SIGINT');
      expect(await launcher.exited).toBe(0);
      expect(Date.now() - interrupted).toBeLessThan(10_000);
      child = undefined;
      // Each process shut down once, gracefully (their last lines may trail the launcher's exit).
      await waitFor(
        async () => launcher.out().match(/"msg":"stopped"/g)?.length === 2,
        'both to stop gracefully',
      ).catch((error: Error) => {
        // The processes' own lines say which shutdown phase waited.
        throw new Error(`${error.message}\n--- output ---\n${launcher.out()}\n--- errors ---\n${launcher.err()}`);
      });
      expect(launcher.out()).not.toContain('second signal');
      // No error flood: not one error line, no stack trace, no refused connection.
      const errors = launcher
        .out()
        .split('\n')
        .filter((line) => /"level":(50|60)/.test(line));
      expect(errors).toEqual([]);
      expect(launcher.out() + launcher.err()).not.toMatch(/ECONNREFUSED|\bat .*\.js:\d+/);
      expect(launcher.out()).toMatch(/"msg":"Redis closed"[^\n]*\n(.*\n)*.*"msg":"renderq stopped"/);
      for (const port of [apiPort, metricsPort, emulatorPort]) {
        await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
      }
      const { Redis } = await import('ioredis');
      const probe = new Redis(`redis://127.0.0.1:${redisPort}`, {
        lazyConnect: true,
        retryStrategy: () => null,
        maxRetriesPerRequest: 0,
      });
      probe.on('error', () => {});
      await expect(probe.connect()).rejects.toThrow();
      probe.disconnect();
    } finally {
      child?.kill('SIGKILL');
      await receiver.close();
      await rm(cwd, { recursive: true, force: true });
    }
  });

  it('uses a Redis that answers and says so, and stops API and worker gracefully when the launcher itself is killed', async () => {
    const cwd = await mkdtemp(path.join(tmpdir(), 'renderq-start-'));
    const [apiPort, metricsPort, emulatorPort] = await Promise.all([freePort(), freePort(), freePort()]);
    const redis = await startRedis({ own: true });
    const redisUrl = new URL(redis.url);
    const launcher = run(
      mains.launcher,
      {
        REDIS_URL: `redis://${redisUrl.host}/3`,
        PORT: String(apiPort),
        WORKER_METRICS_PORT: String(metricsPort),
        EMULATOR_PORT: String(emulatorPort),
        STORAGE_URL: `file://${cwd}/outputs`,
      },
      cwd,
    );
    try {
      await waitFor(() => listening(`http://127.0.0.1:${apiPort}/healthz`), 'the API');
      await waitFor(() => listening(`http://127.0.0.1:${metricsPort}/healthz`), 'the worker');
      // It names the Redis it adopted, started none, and keeps nothing of Redis under ./data.
      expect(launcher.out()).toContain(`using the Redis already at redis://${redisUrl.host} db 3`);
      expect(launcher.out()).not.toContain('started a private Redis');
      await waitFor(async () => launcher.out().includes('renderq is running'), '"renderq is running"');
      const running = JSON.parse(
        launcher
          .out()
          .split('\n')
          .find((line) => line.includes('renderq is running')) ?? '{}',
      );
      expect(running.redis).toBe(`redis://${redisUrl.host} db 3, already running (not started by renderq)`);
      // Its outputs go to STORAGE_URL, outside ./data: the row says only what ./data holds.
      expect(running.data).toBe(`${await realpath(cwd)}/data (emulator requests, webhook secret)`);
      launcher.child.kill('SIGKILL');
      await launcher.exited;
      // Both log their graceful stop (to the pipe they inherited), then their ports are closed.
      await waitFor(async () => launcher.out().match(/"msg":"stopped"/g)?.length === 2, 'both to stop gracefully');
      await waitFor(
        () =>
          fetch(`http://127.0.0.1:${emulatorPort}/_emulator/stats`).then(
            () => false,
            () => true,
          ),
        'the emulator to stop',
      );
      for (const port of [apiPort, metricsPort]) {
        await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
      }
    } finally {
      await redis.stop();
      await rm(cwd, { recursive: true, force: true });
    }
  });
});
