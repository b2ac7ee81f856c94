// A Redis master, one replica and three sentinels watching them, as child processes on free ports
// (no Docker): `redis-sentinel` when installed, else `redis-server --sentinel`, which is the same
// program. For the Sentinel failover test.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, killChildren } from '@renderq/testing';
import { Redis } from 'ioredis';

export const MASTER_NAME = 'renderq-test';

export interface SentinelGroup {
  /** REDIS_SENTINELS: the three sentinels, host:port, comma-separated. */
  readonly sentinels: string;
  /** The master's port as the sentinels name it now. */
  masterPort(): Promise<number>;
  /** SIGKILLs the Redis the sentinels name as master now; resolves with its port. */
  killMaster(): Promise<number>;
  stop(): Promise<void>;
}

/** Why a sentinel group cannot be started here, or undefined when it can. */
export function sentinelUnavailable(): string | undefined {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).error
    ? 'redis-server is not installed'
    : undefined;
}

export async function startSentinelGroup(): Promise<SentinelGroup> {
  const dir = await mkdtemp(path.join(tmpdir(), 'renderq-sentinel-'));
  const children = new Map<number, ChildProcess>();
  const stop = async () => {
    await killChildren(children.values());
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const [masterPort, replicaPort, ...sentinelPorts] = (await Promise.all([1, 2, 3, 4, 5].map(() => freePort()))) as [
      number,
      number,
      ...number[],
    ];
    const redisArgs = (port: number) => [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
    ];
    for (const [port, extra] of [
      [masterPort, []],
      [replicaPort, ['--replicaof', '127.0.0.1', String(masterPort)]],
    ] as const) {
      const home = path.join(dir, String(port));
      await mkdir(home);
      children.set(port, spawn('redis-server', [...redisArgs(port), '--dir', home, ...extra], { stdio: 'ignore' }));
    }
    const sentinelBinary = spawnSync('redis-sentinel', ['--version'], { stdio: 'ignore' }).error
      ? null
      : 'redis-sentinel';
    for (const port of sentinelPorts) {
      // A sentinel rewrites its configuration file as it learns: one file each, in the test's directory.
      const file = path.join(dir, `sentinel-${port}.conf`);
      await writeFile(
        file,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${masterPort} 2`,
          `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
          `sentinel failover-timeout ${MASTER_NAME} 10000`,
          `sentinel parallel-syncs ${MASTER_NAME} 1`,
          '',
        ].join('\n'),
      );
      const child = sentinelBinary
        ? spawn(sentinelBinary, [file], { stdio: 'ignore' })
        : spawn('redis-server', [file, '--sentinel'], { stdio: 'ignore' });
      children.set(port, child);
    }
    const ask = (port: number) => new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1 });
    // Ready once every sentinel knows the replica and the other two sentinels.
    const deadline = Date.now() + 30_000;
    for (const port of sentinelPorts) {
      for (;;) {
        const sentinel = ask(port);
        sentinel.on('error', () => {});
        try {
          await sentinel.connect();
          const replicas = (await sentinel.call('SENTINEL', 'REPLICAS', MASTER_NAME)) as unknown[];
          const others = (await sentinel.call('SENTINEL', 'SENTINELS', MASTER_NAME)) as unknown[];
          if (replicas.length >= 1 && others.length >= 2) break;
        } catch {
          // Not up yet.
        } finally {
          sentinel.disconnect();
        }
        if (Date.now() > deadline) throw new Error(`sentinel :${port} did not see the whole group within 30 s`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    const masterPortNow = async () => {
      const sentinel = ask(sentinelPorts[0] as number);
      sentinel.on('error', () => {});
      try {
        await sentinel.connect();
        const [, port] = (await sentinel.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER_NAME)) as [string, string];
        return Number(port);
      } finally {
        sentinel.disconnect();
      }
    };
    return {
      sentinels: sentinelPorts.map((port) => `127.0.0.1:${port}`).join(','),
      masterPort: masterPortNow,
      async killMaster() {
        const port = await masterPortNow();
        const child = children.get(port);
        if (!child) throw new Error(`no Redis of this group on port ${port}`);
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGKILL');
        await exited;
        return port;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
