/**
 * A `redis-server` child process on a port of its own, with AOF on and its data in
 * a directory of its own, so it can be stopped and started again with its data.
 * redis-server creates its files under its own umask; the directory is made 0700
 * (an existing one narrowed too), so no other user can reach them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdirSync } from 'node:fs';
import { Redis } from 'ioredis';
import { registerChild, unregisterChild } from './child-registry.js';

export interface RedisServerOptions {
  readonly port: number;
  readonly dir: string;
  /** @defaultValue redis-server from the PATH */
  readonly binary?: string;
  /** Where redis-server writes its log. @defaultValue nowhere */
  readonly logFile?: string;
}

export class RedisServerProcess {
  #child: ChildProcess | undefined;
  readonly url: string;

  constructor(readonly options: RedisServerOptions) {
    this.url = `redis://127.0.0.1:${options.port}`;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Starts the server and resolves once it answers PING. */
  async start(): Promise<void> {
    if (this.#child) return;
    mkdirSync(this.options.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.options.dir, 0o700);
    const args = [
      '--port',
      String(this.options.port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--maxmemory-policy',
      'noeviction',
      '--dir',
      this.options.dir,
      '--logfile',
      this.options.logFile ?? '',
    ];
    const child = spawn(this.options.binary ?? 'redis-server', args, { stdio: 'ignore' });
    this.#child = child;
    const spawned = new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          error.code === 'ENOENT' ? new Error('redis-server is not on the PATH (apt-get install redis-server)') : error,
        ),
      );
    });
    await spawned;
    if (child.pid) registerChild(child.pid, `redis-server :${this.options.port}`);
    child.once('exit', () => {
      if (child.pid) unregisterChild(child.pid);
      if (this.#child === child) this.#child = undefined;
    });
    await waitForPing(this.url, child);
  }

  /** Stops the server (SIGTERM, then SIGKILL after `graceMs`). */
  async stop(graceMs = 5_000): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // A frozen server would never see the SIGTERM.
    child.kill('SIGCONT');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  /** Stops the server answering without closing anything (SIGSTOP), as a hung host would. */
  freeze(): void {
    this.#child?.kill('SIGSTOP');
  }

  /** Lets a frozen server answer again (SIGCONT). */
  thaw(): void {
    this.#child?.kill('SIGCONT');
  }

  /** Kills the server at once, as a crash would. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }
}

async function waitForPing(url: string, child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  // Refused connections are expected until the server listens.
  client.on('error', () => {});
  try {
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}`);
      try {
        if (client.status !== 'ready') await client.connect();
        if ((await client.ping()) === 'PONG') return;
      } catch {
        client.disconnect();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    throw new Error(`redis-server at ${url} did not answer within ${timeoutMs} ms`);
  } finally {
    client.disconnect();
  }
}
