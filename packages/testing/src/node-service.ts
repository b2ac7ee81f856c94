/**
 * A renderq process (API, worker, launcher) as a child for tests and benchmarks:
 * a built `main.js` with the given environment, ready once a URL of it answers.
 * Its output is kept (for assertions and for the report when it fails to start).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { registerChild, unregisterChild } from './child-registry.js';

export interface NodeService {
  readonly child: ChildProcess;
  /** What the process wrote to stdout and stderr so far. */
  readonly output: () => string;
  readonly exited: Promise<number | null>;
  /** SIGTERM, then waits for the exit (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnServiceOptions {
  /** The built entry point. */
  readonly main: string;
  /** The environment; PATH is added. */
  readonly env: Record<string, string>;
  /** Polled until it answers 2xx. */
  readonly readyUrl: string;
  /** Pass output through instead of keeping it. @defaultValue false */
  readonly inheritOutput?: boolean;
  /** A bound for a loaded machine, not a target. @defaultValue 45_000 */
  readonly startTimeoutMs?: number;
}

export async function spawnNodeService(options: SpawnServiceOptions): Promise<NodeService> {
  const child = spawn(process.execPath, [options.main], {
    env: { PATH: process.env.PATH ?? '', ...options.env },
    stdio: ['ignore', options.inheritOutput ? 'inherit' : 'pipe', options.inheritOutput ? 'inherit' : 'pipe'],
  });
  if (child.pid) registerChild(child.pid, options.main);
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      if (child.pid) unregisterChild(child.pid);
      resolve(code);
    }),
  );
  const stop = async (graceMs = 20_000) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + (options.startTimeoutMs ?? 45_000);
  while (
    !(await fetch(options.readyUrl).then(
      (r) => r.ok,
      () => false,
    ))
  ) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      await exited;
      throw new Error(`${options.main} did not start:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { child, output: () => output, exited, stop };
}
