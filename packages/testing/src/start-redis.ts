/**
 * A real Redis for a test: Testcontainers when a Docker engine answers, otherwise a
 * `redis-server` child on a free port (AOF on, its own temporary directory), or
 * REDIS_URL when set and the test needs no server of its own.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { dockerAvailable } from './docker.js';
import { freePort } from './free-port.js';
import { RedisServerProcess } from './redis-server-process.js';

export interface RedisHandle {
  /** Changes only across `restart()` on Docker, where the mapped port may move. */
  readonly url: string;
  /** Where it came from: `process`, `container` or `external` (REDIS_URL). */
  readonly kind: 'process' | 'container' | 'external';
  /** Stops and starts the server with its data kept (AOF); not possible on `external`. */
  restart(): Promise<void>;
  /** Kills the server at once (no clean shutdown), leaving its data for `start()`. */
  kill(): Promise<void>;
  /** Starts a killed server again. */
  start(): Promise<void>;
  /** Makes the server stop answering while its connections stay open (SIGSTOP; `process` only). */
  freeze(): Promise<void>;
  /** Lets a frozen server answer again. */
  thaw(): Promise<void>;
  /** Stops exactly what was started, and removes its data. */
  stop(): Promise<void>;
}

export interface StartRedisOptions {
  /** A server of the test's own even when REDIS_URL is set (for restart tests). @defaultValue false */
  readonly own?: boolean;
}

export async function startRedis(options: StartRedisOptions = {}): Promise<RedisHandle> {
  const external = process.env.REDIS_URL;
  if (external && !options.own) return externalRedis(external);
  if (dockerAvailable()) return containerRedis();
  return processRedis();
}

function externalRedis(url: string): RedisHandle {
  const unsupported = async () => {
    throw new Error('the external REDIS_URL server cannot be restarted by a test; ask for { own: true }');
  };
  return {
    url,
    kind: 'external',
    restart: unsupported,
    kill: unsupported,
    start: unsupported,
    freeze: unsupported,
    thaw: unsupported,
    stop: async () => {},
  };
}

async function processRedis(): Promise<RedisHandle> {
  const dir = await mkdtemp(path.join(tmpdir(), 'renderq-redis-'));
  const server = await startOnFreePort(dir);
  return {
    url: server.url,
    kind: 'process',
    restart: async () => {
      await server.stop();
      await server.start();
    },
    kill: () => server.kill(),
    start: () => server.start(),
    freeze: async () => server.freeze(),
    thaw: async () => server.thaw(),
    stop: async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function containerRedis(): Promise<RedisHandle> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const container = await new GenericContainer('redis:7-alpine')
    .withCommand(['redis-server', '--appendonly', 'yes', '--maxmemory-policy', 'noeviction'])
    .withExposedPorts(6379)
    .withWaitStrategy(Wait.forLogMessage('Ready to accept connections'))
    .start();
  const urlOf = () => `redis://${container.getHost()}:${container.getMappedPort(6379)}`;
  const handle = {
    url: urlOf(),
    kind: 'container' as const,
    restart: async () => {
      await container.restart();
      handle.url = urlOf();
    },
    kill: async () => {
      await container.exec(['sh', '-c', 'kill -9 1']).catch(() => undefined);
    },
    start: async () => {
      await container.restart();
      handle.url = urlOf();
    },
    freeze: async () => {
      await container.exec(['sh', '-c', 'kill -STOP 1']);
    },
    thaw: async () => {
      await container.exec(['sh', '-c', 'kill -CONT 1']);
    },
    stop: async () => {
      await container.stop();
    },
  };
  return handle;
}

/**
 * A redis-server on a port of its own. Another test run on the same machine may bind the port drawn
 * between its check and redis-server's bind (redis-server then exits at once): draw again.
 */
async function startOnFreePort(dir: string, attempts = 3): Promise<RedisServerProcess> {
  for (let attempt = 1; ; attempt++) {
    const server = new RedisServerProcess({ port: await freePort(), dir });
    try {
      await server.start();
      return server;
    } catch (error) {
      if (attempt >= attempts) throw error;
    }
  }
}
