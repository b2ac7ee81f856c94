// A Redis Cluster of three masters, no replicas, from `redis-server --cluster-enabled yes` child processes
// on free ports (no Docker), joined by `redis-cli --cluster create`; for the Redis Cluster end-to-end test.
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, killChildren } from '@renderq/testing';
import { Redis } from 'ioredis';

const run = promisify(execFile);

export interface RedisCluster {
  /** The masters, as host:port seeds. */
  readonly nodes: readonly { host: string; port: number }[];
  /** A redis:// URL of one master: with REDIS_CLUSTER=true, a seed from which clients find the rest. */
  readonly url: string;
  stop(): Promise<void>;
}

/** Why a cluster cannot be started here, or undefined when it can. */
export function clusterUnavailable(): string | undefined {
  for (const binary of ['redis-server', 'redis-cli']) {
    if (spawnSync(binary, ['--version'], { stdio: 'ignore' }).error) return `${binary} is not installed`;
  }
  return undefined;
}

export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const dir = await mkdtemp(path.join(tmpdir(), 'renderq-cluster-'));
  const children: ChildProcess[] = [];
  const nodes: { host: string; port: number }[] = [];
  const stop = async () => {
    await killChildren(children);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) {
      // The cluster bus gets a free port of its own (by default port + 10000, which may be taken or out of range).
      const [port, busPort] = [await freePort(), await freePort()];
      const nodeDir = path.join(dir, String(port));
      await mkdir(nodeDir);
      const child = spawn(
        'redis-server',
        [
          ...['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes'],
          ...[
            '--cluster-port',
            String(busPort),
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-node-timeout',
            '5000',
          ],
          ...['--save', '', '--appendonly', 'yes', '--maxmemory-policy', 'noeviction', '--dir', nodeDir],
        ],
        { stdio: 'ignore' },
      );
      children.push(child);
      nodes.push({ host: '127.0.0.1', port });
    }
    await Promise.all(nodes.map((node) => untilAnswering(node.port)));
    await run('redis-cli', [
      '--cluster',
      'create',
      ...nodes.map((node) => `${node.host}:${node.port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    await Promise.all(nodes.map((node) => untilClusterOk(node.port)));
  } catch (error) {
    await stop();
    throw error;
  }
  return { nodes, url: `redis://127.0.0.1:${nodes[0]?.port}`, stop };
}

async function untilAnswering(port: number): Promise<void> {
  await until(port, async (redis) => (await redis.ping()) === 'PONG', 'answer PING');
}

async function untilClusterOk(port: number): Promise<void> {
  await until(
    port,
    async (redis) => String(await redis.cluster('INFO')).includes('cluster_state:ok'),
    'report cluster_state:ok',
  );
}

async function until(port: number, check: (redis: Redis) => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  const redis = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  // Refused connections while the server starts are expected; each is retried below.
  redis.on('error', () => undefined);
  try {
    while (Date.now() < deadline) {
      try {
        if (redis.status !== 'ready') await redis.connect();
        if (await check(redis)) return;
      } catch {
        // Not up yet.
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`redis-server on port ${port} did not ${what} within 20 s`);
  } finally {
    redis.disconnect();
  }
}
