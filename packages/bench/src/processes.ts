/**
 * What a benchmark reads of a process from /proc (CPU time, RSS), and the processes
 * it runs: its own redis-server, the Segmind emulator in benchmark mode, the API and
 * workers — each in a process of its own so that each one's CPU is told apart.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort, RedisServerProcess } from '@renderq/testing';
import { spawnWorker as spawnWorkerChild, type WorkerChild } from '@renderq/worker/testing';

const TICKS_PER_SECOND = 100;

/**
 * `--cpu-prof=DIR`: the API and workers write V8 CPU profiles there when they exit
 * (open them in Chrome DevTools or speedscope), to see where a job's CPU goes.
 */
let cpuProfileDir: string | undefined;
export function profileRenderqInto(dir: string): void {
  cpuProfileDir = dir;
}
const profilerFlags = (): string[] => (cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfileDir}`] : []);

/** Every child this run started, so that a failed section leaves none behind. */
const children = new Set<ChildProcess>();
function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Kills whatever this run started and is still running (after a section failed). */
export function killStartedChildren(): void {
  for (const child of children) child.kill('SIGKILL');
}

/** User + system CPU milliseconds a process has used so far. */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

export function rssMiB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return Number.NaN;
  }
}

/** CPU used by each named process between `start()` and `stop()`. */
export class CpuMeter {
  readonly #pids: Record<string, number>;
  #at: Record<string, number> = {};

  constructor(pids: Record<string, number>) {
    this.#pids = pids;
    this.start();
  }

  start(): void {
    this.#at = Object.fromEntries(Object.entries(this.#pids).map(([name, pid]) => [name, cpuMs(pid)]));
  }

  stop(): Record<string, number> {
    return Object.fromEntries(
      Object.entries(this.#pids).map(([name, pid]) => [name, cpuMs(pid) - (this.#at[name] ?? 0)]),
    );
  }
}

/** Calls of each Redis command so far (INFO commandstats; commands run inside scripts count too). */
export async function redisCommandCalls(redis: {
  info(section: string): Promise<string>;
}): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  for (const match of (await redis.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    calls.set(match[1] as string, Number(match[2]));
  }
  return calls;
}

/** Commands run between two readings, per job: the total, and the busiest commands by name. */
export function commandsPerJob(
  before: Map<string, number>,
  after: Map<string, number>,
  jobs: number,
): { total: number; top: string } {
  const diff = [...after].map(([name, n]) => [name, (n - (before.get(name) ?? 0)) / jobs] as const);
  const total = diff.reduce((sum, [, n]) => sum + n, 0);
  const top = diff
    .filter(([, n]) => n >= 0.05)
    .sort((a, b) => b[1] - a[1])
    .map(([name, n]) => `${name} ${n.toFixed(1)}`)
    .join(', ');
  return { total, top };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const mainOf = (pkg: string) => fileURLToPath(new URL('main.js', import.meta.resolve(pkg)));

export interface BenchRedis {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

export async function startBenchRedis(): Promise<BenchRedis> {
  const dir = await mkdtemp(path.join(tmpdir(), 'renderq-bench-redis-'));
  const server = new RedisServerProcess({ port: await freePort(), dir });
  await server.start();
  return {
    url: server.url,
    pid: server.pid as number,
    stop: async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface BenchEmulator {
  readonly url: string;
  readonly apiKey: string;
  readonly pid: number;
  configure(patch: Record<string, unknown>): Promise<void>;
  stats(): Promise<EmulatorCounts>;
  stop(): Promise<void>;
}

interface EmulatorCounts {
  readonly submits: { readonly attempts: number; readonly accepted: number };
  readonly polls: number;
  readonly errors: Record<string, number>;
  readonly requests: { readonly queued: number; readonly processing: number; readonly completed: number };
}

/** The emulator in a process of its own, in benchmark mode (images drawn once per size, served from memory). */
export async function startBenchEmulator(): Promise<BenchEmulator> {
  const child = track(
    spawn(
      process.execPath,
      [
        mainOf('@renderq/segmind-emulator'),
        '--port=0',
        '--latency-scale=0',
        '--latency-jitter=0',
        '--gpus=1000000',
        '--credits=1000000000',
        '--fixed-images=true',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    ),
  );
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', (line) => {
      const match = /listening on (\S+)/.exec(line);
      if (match) resolve(match[1] as string);
      else reject(new Error(`unexpected emulator output: ${line}`));
    });
    child.once('exit', (code) => reject(new Error(`emulator exited with ${code}`)));
  });
  const apiKey = 'emulator-key';
  const admin = async (method: string, route: string, body?: unknown) => {
    const response = await fetch(`${url}/_emulator/${route}`, {
      method,
      headers: { 'x-api-key': apiKey, 'content-type': 'application/json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    if (!response.ok) throw new Error(`emulator ${route}: ${response.status} ${await response.text()}`);
    return response.json();
  };
  return {
    url,
    apiKey,
    pid: child.pid as number,
    configure: async (patch) => {
      await admin('PATCH', 'config', patch);
    },
    stats: () => admin('GET', 'stats') as Promise<EmulatorCounts>,
    stop: () => stopChild(child),
  };
}

export function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  return exited;
}

export interface Stack {
  readonly redis: BenchRedis;
  readonly emulator: BenchEmulator;
  /** Outputs go to files under here. */
  readonly storageDir: string;
}

export function workerEnv(stack: Stack, prefix: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL: stack.redis.url,
    RENDERQ_PREFIX: prefix,
    SEGMIND_BASE_URL: stack.emulator.url,
    SEGMIND_API_KEY: stack.emulator.apiKey,
    STORAGE_URL: `file://${stack.storageDir}/${prefix}`,
    WORKER_CONCURRENCY: '50',
    WORKER_POLL_CONCURRENCY: '50',
    SEGMIND_MAX_INFLIGHT: '1000000',
    LOG_LEVEL: 'error',
    ...extra,
  };
}

export async function startWorker(env: Record<string, string>): Promise<WorkerChild> {
  // Its output is kept, not printed: stdout is the table's (or the JSON's).
  const worker = await spawnWorkerChild({
    env: { WORKER_METRICS_PORT: String(await freePort()), ...env },
    nodeFlags: profilerFlags(),
    captureOutput: true,
  });
  track(worker.child);
  return worker;
}

export const API_KEY = 'bench-key-0123456789';
/** The keys of the tenants the fairness section posts as (tenant a, b, c). */
export const TENANT_KEYS = {
  a: 'bench-key-tenant-a-0123',
  b: 'bench-key-tenant-b-0123',
  c: 'bench-key-tenant-c-0123',
} as const;

export interface ApiChild {
  readonly url: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/** The API as `pnpm start:api` runs it; the tenant's enqueue rate is charged but never reached. */
export async function startApi(stack: Stack, prefix: string, extra: Record<string, string> = {}): Promise<ApiChild> {
  const port = await freePort();
  const child = track(
    spawn(process.execPath, [...profilerFlags(), mainOf('@renderq/api')], {
      env: {
        PATH: process.env.PATH ?? '',
        REDIS_URL: stack.redis.url,
        RENDERQ_PREFIX: prefix,
        RENDERQ_API_KEYS: [`bench:${API_KEY}`, ...Object.entries(TENANT_KEYS).map(([t, key]) => `${t}:${key}`)].join(
          ',',
        ),
        STORAGE_URL: `file://${stack.storageDir}/${prefix}`,
        PORT: String(port),
        LOG_LEVEL: 'error',
        TENANT_ENQUEUE_RATE: '10000000',
        TENANT_ENQUEUE_BURST: '100000000',
        // The enqueue section leaves 80,000 of one tenant's jobs waiting: more than the default quota.
        TENANT_BACKLOG_QUOTA: '0',
        ...extra,
      },
      // Its log goes to stderr: stdout is the table's (or the JSON's).
      stdio: ['ignore', 2, 2],
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 45_000;
  while (
    !(await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    ))
  ) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error('the API did not start');
    await sleep(100);
  }
  return { url, child, stop: () => stopChild(child) };
}

/** A child running one of this package's own scripts (the raw BullMQ baselines). */
export function spawnScript(script: string, env: Record<string, string>): ChildProcess {
  return track(
    spawn(process.execPath, [fileURLToPath(new URL(script, import.meta.url))], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 2, 2],
    }),
  );
}
