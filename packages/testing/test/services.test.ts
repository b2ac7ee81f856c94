import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { registerChild } from '../src/child-registry.js';
import { freePortRange } from '../src/free-port.js';
import { freePort, RedisServerProcess, startRedis, startS3, stopLeftoverChildren } from '../src/index.js';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const serversListening = (port: string) => {
  try {
    return execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
};

describe('freePort', () => {
  it('hands out distinct ports outside the range outgoing connections take theirs from', async () => {
    const range = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => '32768 60999');
    const [first, last] = range.trim().split(/\s+/).map(Number) as [number, number];
    const ports = await Promise.all(Array.from({ length: 200 }, () => freePort()));
    expect(new Set(ports).size).toBe(200);
    for (const port of ports) expect(port >= first && port <= last).toBe(false);
  });

  it('never hands out a port someone listens on', async () => {
    // Occupy half of the range it draws from (a slice of 16384-32767, below Linux's ephemeral range).
    const listening = (port: number) =>
      new Promise<ReturnType<typeof createServer> | undefined>((resolve) => {
        const server = createServer();
        server.once('error', () => resolve(undefined));
        server.listen(port, '127.0.0.1', () => resolve(server));
      });
    const { low, high } = freePortRange();
    const busy = await Promise.all(
      Array.from({ length: Math.floor((high - low) / 2) }, (_, i) => listening(low + 2 * i)),
    );
    const taken = new Set(busy.flatMap((server) => (server ? [(server.address() as { port: number }).port] : [])));
    try {
      const ports = await Promise.all(Array.from({ length: 200 }, () => freePort()));
      expect(ports.filter((port) => taken.has(port))).toEqual([]);
      for (const port of ports) expect(port >= low && port <= high).toBe(true);
    } finally {
      await Promise.all(busy.map((server) => server && new Promise((resolve) => server.close(resolve))));
    }
  });
});

describe('startRedis', () => {
  it('starts a server of its own with AOF on, keeps data across kill and start, and stops it whole', async () => {
    const server = await startRedis({ own: true });
    const port = new URL(server.url).port;
    let client = new Redis(server.url);
    expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
    await client.set('survives', 'yes');
    client.disconnect();

    // appendfsync everysec: give the write its second before the crash.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await server.kill();
    await server.start();
    client = new Redis(server.url);
    expect(await client.get('survives')).toBe('yes');
    client.disconnect();

    await server.restart();
    client = new Redis(server.url);
    expect(await client.get('survives')).toBe('yes');
    client.disconnect();

    await server.stop();
    expect(serversListening(port)).toBe('');
  });

  it('hands out a different server to each caller', async () => {
    const [a, b] = await Promise.all([startRedis({ own: true }), startRedis({ own: true })]);
    expect(a.url).not.toBe(b.url);
    await Promise.all([a.stop(), b.stop()]);
  });
});

describe('startS3', () => {
  it('starts a real S3 server and stops exactly it', async () => {
    const s3 = await startS3('bucket-a');
    const response = await fetch(`${s3.endpoint}/bucket-a`);
    // Unsigned: refused or listed, but answered by an S3 server.
    expect(await response.text()).toMatch(/<\?xml/);
    const port = new URL(s3.endpoint).port;
    await s3.stop();
    expect(serversListening(port)).toBe('');
  });
});

describe('stopLeftoverChildren', () => {
  it('kills servers whose owner died without stopping them, and only those', async () => {
    const mine = await startRedis({ own: true });
    const orphan = new RedisServerProcess({
      port: await freePort(),
      dir: await mkdtemp(path.join(tmpdir(), 'orphan-')),
    });
    await orphan.start();
    // What a crashed test file leaves: a server registered to a process that no longer exists.
    const deadOwner = spawnSync(process.execPath, ['-e', '']).pid;
    registerChild(orphan.pid as number, 'redis-server (orphan)', deadOwner);

    const stopped = stopLeftoverChildren();
    expect(stopped).toEqual([`redis-server (orphan) (pid ${orphan.pid})`]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(alive(orphan.pid as number)).toBe(false);
    // A live owner's server is left alone.
    const client = new Redis(mine.url);
    expect(await client.ping()).toBe('PONG');
    client.disconnect();
    await mine.stop();
  });
});
