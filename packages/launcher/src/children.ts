/**
 * The launcher's child processes (API, worker, emulator). Each runs in a process group
 * of its own: a terminal's Ctrl-C reaches only the launcher, which stops the children one
 * after another, each with exactly one SIGTERM (a second signal would cut its graceful
 * shutdown short). The IPC channel tells a child when the launcher is gone, however it died.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Logger } from '@renderq/shared';

/** How long a process may take to answer its health check: a bound for a loaded machine. */
const START_TIMEOUT_MS = 60_000;
/** Beyond the processes' own shutdown grace (25 s): a child that hangs is killed. */
const STOP_TIMEOUT_MS = 35_000;

export class Children {
  readonly #running = new Map<string, ChildProcess>();
  /** Called when a child exits on its own (not asked to by `stopAll`). */
  onUnexpectedExit: (name: string, code: number | null) => void = () => {};
  #stopping = false;

  constructor(private readonly logger: Logger) {}

  #spawn(name: string, script: string, env: NodeJS.ProcessEnv, readStdout: boolean): ChildProcess {
    const child = spawn(process.execPath, ['--enable-source-maps', script], {
      stdio: ['ignore', readStdout ? 'pipe' : 'inherit', 'inherit', 'ipc'],
      env,
      detached: true,
    });
    this.#running.set(name, child);
    child.once('exit', (code) => {
      this.#running.delete(name);
      if (!this.#stopping) this.onUnexpectedExit(name, code);
    });
    return child;
  }

  /** Starts a renderq process and resolves once `healthUrl` answers 200. */
  async start(name: string, script: string, env: NodeJS.ProcessEnv, healthUrl: string): Promise<void> {
    const child = this.#spawn(name, script, env, false);
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!(await answers(healthUrl))) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`the ${name} could not start (its own line above says why)`);
      }
      if (Date.now() > deadline) throw new Error(`the ${name} did not answer at ${healthUrl} within 60 s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    this.logger.debug({ health: healthUrl }, `the ${name} is up`);
  }

  /** Starts the Segmind emulator and waits for the line that says where it listens. */
  async startEmulator(script: string, env: NodeJS.ProcessEnv): Promise<{ url: string; apiKey: string }> {
    const child = this.#spawn('Segmind emulator', script, env, true);
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    // The lines after the first are passed on, even those that come in the same chunk as it.
    let first: string | undefined;
    const line = await new Promise<string>((resolve, reject) => {
      lines.on('line', (next) => {
        if (first !== undefined) return void process.stdout.write(`${next}\n`);
        first = next;
        resolve(next);
      });
      child.once('exit', () => reject(new Error('the Segmind emulator could not start (its own line above says why)')));
    });
    const match = /listening on (\S+) \(x-api-key: ([^;]+);/.exec(line);
    if (!match) throw new Error(`unexpected emulator output: ${line}`);
    return { url: match[1] as string, apiKey: match[2] as string };
  }

  /**
   * Stops the children one at a time, those named in `order` first and in that order (the
   * rest after them), each once it has exited; resolves when all have.
   */
  async stopAll(order: readonly string[]): Promise<void> {
    this.#stopping = true;
    const names = [...order.filter((name) => this.#running.has(name)), ...this.#running.keys()];
    for (const name of new Set(names)) {
      const child = this.#running.get(name);
      if (child) await stopChild(child);
    }
  }
}

/** One SIGTERM; SIGKILL past the grace. Resolves once the child has exited. */
function stopChild(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}
