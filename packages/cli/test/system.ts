/**
 * A whole renderq for the CLI's tests: real Redis, the Segmind emulator (fast),
 * the API in this process, a worker as a child process, file storage and a
 * webhook receiver; and `renderq`, the built CLI, run as a child process the way
 * a user or a script runs it.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApp } from '@renderq/api';
import { type Emulator, startEmulator } from '@renderq/segmind-emulator';
import { closeRedis, createLogger, createMetrics, createRedis, loadConfig } from '@renderq/shared';
import { freePort, startRedis, startWebhookReceiver, uniqueName, type WebhookReceiver } from '@renderq/testing';
import { spawnWorker, type WorkerChild } from '@renderq/worker/testing';

const CLI = fileURLToPath(new URL('../dist/main.js', import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));

export const API_KEY = 'cli-test-key-0123456789';
export const ADMIN_KEY = 'cli-test-operator-key-0123456789';

export interface System {
  readonly url: string;
  readonly emulator: Emulator;
  readonly receiver: WebhookReceiver;
  /** A scratch folder for downloads, removed at the end. */
  readonly dir: string;
  stop(): Promise<void>;
}

export async function startSystem(): Promise<System> {
  const [redisServer, emulator, receiver] = await Promise.all([
    startRedis(),
    startEmulator({ latencyScale: 0.02, latencyJitter: 0, gpusPerModel: 100 }),
    startWebhookReceiver(),
  ]);
  const dir = await mkdtemp(path.join(tmpdir(), 'renderq-cli-'));
  const port = await freePort();
  const env = {
    REDIS_URL: redisServer.url,
    RENDERQ_PREFIX: uniqueName('cli'),
    RENDERQ_API_KEYS: `cli:${API_KEY}`,
    RENDERQ_ADMIN_KEYS: ADMIN_KEY,
    STORAGE_URL: `file://${path.join(dir, 'storage')}`,
    PORT: String(port),
    SEGMIND_BASE_URL: emulator.url,
    SEGMIND_API_KEY: emulator.apiKey,
    WEBHOOK_SECRET: `whsec_${Buffer.from('renderq cli test webhook secret').toString('base64')}`,
    // The receiver listens on 127.0.0.1.
    WEBHOOK_ALLOW_PRIVATE: 'true',
    OUTPUT_LINK_SECRET: 'cli test output link secret 0123456789',
    LOG_LEVEL: 'warn',
  };
  const config = loadConfig(env);
  const redis = createRedis(redisServer.url, 'client');
  const app = await buildApp({
    config,
    logger: createLogger({ level: 'silent', name: 'renderq-api', secrets: config.secrets }),
    redis,
    metrics: createMetrics({ processMetrics: false }),
  });
  await app.listen({ host: '127.0.0.1', port });
  let worker: WorkerChild | undefined;
  try {
    worker = await spawnWorker({ env: { ...env, WORKER_METRICS_PORT: String(await freePort()) }, captureOutput: true });
  } catch (error) {
    await app.close();
    throw error;
  }
  return {
    url: `http://127.0.0.1:${port}`,
    emulator,
    receiver,
    dir,
    async stop() {
      if (worker?.child.exitCode === null) {
        worker.child.kill('SIGTERM');
        await worker.exited;
      }
      await app.close();
      await closeRedis(redis);
      await Promise.all([emulator.close(), receiver.close(), redisServer.stop()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout parsed as JSON (for `--json` runs). */
  json<T = Record<string, unknown>>(): T;
}

export interface RunOptions {
  readonly env?: Record<string, string>;
  /** Called with the child once it runs (to send it a signal). */
  readonly onStart?: (child: import('node:child_process').ChildProcess, stderr: () => string) => void;
  readonly cwd?: string;
}

/** `renderq ARGS` as a child process, with RENDERQ_URL and RENDERQ_API_KEY for `system`. */
export function renderq(system: Pick<System, 'url'>, args: readonly string[], options: RunOptions = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd ?? REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', RENDERQ_URL: system.url, RENDERQ_API_KEY: API_KEY, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) =>
      resolve({
        code,
        stdout,
        stderr,
        json: <T>() => {
          try {
            return JSON.parse(stdout) as T;
          } catch {
            throw new Error(`stdout is not JSON (exit ${code}):\n${stdout}\nstderr:\n${stderr}`);
          }
        },
      }),
    );
    options.onStart?.(child, () => stderr);
  });
}
