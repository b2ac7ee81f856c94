/**
 * @renderq/worker/testing: a worker as a child process, as tests and benchmarks
 * run it — the built `main.js` with the given environment, ready once its
 * /metrics answers.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// Both src/ and dist/ sit one level below the package root: the built entry point either way.
const workerMain = fileURLToPath(new URL('../dist/main.js', import.meta.url));

export interface WorkerChild {
  readonly child: ChildProcess;
  readonly metricsUrl: string;
  /** What the worker wrote to stdout and stderr, when `captureOutput` was asked for. */
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

export interface SpawnWorkerOptions {
  /** The worker's environment; PATH is added. WORKER_METRICS_PORT is required. */
  readonly env: Record<string, string>;
  /** Keep stdout and stderr for `output()` instead of passing them through. @defaultValue false */
  readonly captureOutput?: boolean;
  /** Node's own flags before the entry point (e.g. `--cpu-prof`). @defaultValue [] */
  readonly nodeFlags?: readonly string[];
  /** A bound for a loaded machine, not a target. @defaultValue 45_000 */
  readonly startTimeoutMs?: number;
}

export async function spawnWorker(options: SpawnWorkerOptions): Promise<WorkerChild> {
  const port = options.env.WORKER_METRICS_PORT;
  if (!port) throw new Error('spawnWorker needs WORKER_METRICS_PORT');
  const child = spawn(process.execPath, [...(options.nodeFlags ?? []), workerMain], {
    env: { PATH: process.env.PATH ?? '', ...options.env },
    stdio: ['ignore', options.captureOutput ? 'pipe' : 'inherit', options.captureOutput ? 'pipe' : 'inherit'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const metricsUrl = `http://127.0.0.1:${port}/metrics`;
  const deadline = Date.now() + (options.startTimeoutMs ?? 45_000);
  while (
    !(await fetch(metricsUrl).then(
      (r) => r.ok,
      () => false,
    ))
  ) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`worker did not start:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { child, metricsUrl, output: () => output, exited };
}
