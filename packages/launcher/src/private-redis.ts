/**
 * `pnpm start` on a machine without Redis: when nothing answers at REDIS_URL and it
 * names this machine, a private redis-server with its data under ./data/redis (AOF
 * on, 0700), so jobs survive a restart of `pnpm start`. It runs in a process group of
 * its own, so a terminal's Ctrl-C does not reach it: the launcher stops it last, after
 * every process that uses it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';

/** The server and database a URL names, without its credentials: redis://127.0.0.1:6379 db 0. */
export function redisAddress(url: string): string {
  const parsed = new URL(url);
  const db = Number(parsed.pathname.slice(1) || 0);
  return `${parsed.protocol}//${parsed.hostname}:${parsed.port || 6379} db ${db}`;
}

export async function redisAnswers(url: string, timeoutMs = 1_500): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
  });
  // A refused connection is the answer "no", not an error to report.
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

export class PrivateRedis {
  #child: ChildProcess | undefined;

  private constructor(
    readonly url: string,
    readonly port: number,
    readonly dir: string,
  ) {}

  /** A private server for `url`, or undefined when the URL does not name this machine. */
  static for(url: string, dataDir: string): PrivateRedis | undefined {
    const parsed = new URL(url);
    if (!['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname)) return undefined;
    return new PrivateRedis(url, Number(parsed.port || 6379), path.join(dataDir, 'redis'));
  }

  /** Starts redis-server and resolves once it answers; rejects with a sentence saying why not. */
  async start(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await chmod(this.dir, 0o700);
    const child = spawn(
      'redis-server',
      [
        ...['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir],
        ...['--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec', '--maxmemory-policy', 'noeviction'],
        ...['--logfile', path.join(this.dir, 'redis.log')],
      ],
      { stdio: 'ignore', detached: true },
    );
    this.#child = child;
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          new Error(
            error.code === 'ENOENT' ? 'redis-server is not on the PATH (apt-get install redis-server)' : error.message,
          ),
        ),
      );
    });
    const deadline = Date.now() + 10_000;
    while (!(await redisAnswers(this.url, 500))) {
      if (child.exitCode !== null) {
        throw new Error(`redis-server exited with code ${child.exitCode} (see ${path.join(this.dir, 'redis.log')})`);
      }
      if (Date.now() > deadline) throw new Error(`redis-server did not answer at ${this.url} within 10 s`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Stops the server (SIGTERM: it finishes its AOF), SIGKILL after `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
}
