// `pnpm start` keeps a webhook secret and a private Redis' data under ./data: only
// their owner may read them, whatever the umask, and an old secret file left readable
// by others is narrowed when it is read.
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '@renderq/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { devWebhookSecret } from '../src/dev-webhook-secret.js';
import { PrivateRedis } from '../src/private-redis.js';

const modeOf = async (file: string) => (await stat(file)).mode & 0o777;

let root: string;
let umask: number;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'renderq-launcher-'));
  umask = process.umask(0o022);
});
afterEach(async () => {
  process.umask(umask);
  await rm(root, { recursive: true, force: true });
});

describe('the dev webhook secret', () => {
  it('is made 0600 in a 0700 data directory under umask 022, and read back the same', async () => {
    const dataDir = path.join(root, 'data');
    const made = await devWebhookSecret(dataDir);
    expect(made.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(await modeOf(made.file)).toBe(0o600);
    expect(await modeOf(dataDir)).toBe(0o700);
    expect(await devWebhookSecret(dataDir)).toEqual({ ...made, tightened: false });
  });

  it('has an existing 0644 secret file corrected to 0600 when it is read, keeping the secret', async () => {
    const dataDir = path.join(root, 'data');
    await mkdir(dataDir);
    const file = path.join(dataDir, 'webhook-secret');
    const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    await writeFile(file, `${secret}\n`);
    await chmod(file, 0o644);
    expect(await devWebhookSecret(dataDir)).toEqual({ secret, file, tightened: true });
    expect(await modeOf(file)).toBe(0o600);
  });

  it('replaces an unusable 0666 secret file with a new secret, 0600', async () => {
    const dataDir = path.join(root, 'data');
    await mkdir(dataDir);
    const file = path.join(dataDir, 'webhook-secret');
    await writeFile(file, 'not a secret\n');
    await chmod(file, 0o666);
    const made = await devWebhookSecret(dataDir);
    expect(made.secret).toMatch(/^whsec_/);
    expect(await readFile(file, 'utf8')).toBe(`${made.secret}\n`);
    expect(await modeOf(file)).toBe(0o600);
  });
});

describe('the private Redis', () => {
  it('keeps its data in a 0700 directory, narrowing one that existed with a wider mode', async () => {
    const dataDir = path.join(root, 'data');
    await mkdir(path.join(dataDir, 'redis'), { recursive: true, mode: 0o755 });
    expect(await modeOf(path.join(dataDir, 'redis'))).toBe(0o755);
    const server = PrivateRedis.for(`redis://127.0.0.1:${await freePort()}`, dataDir);
    if (!server) throw new Error('a local REDIS_URL gets a private server');
    try {
      await server.start();
      const dir = path.join(dataDir, 'redis');
      expect(await modeOf(dir)).toBe(0o700);
      // redis-server wrote its files (AOF, log) in there itself.
      expect((await readdir(dir)).length).toBeGreaterThan(0);
    } finally {
      await server.stop();
    }
  });

  it('makes its data directory 0700 when it does not exist yet', async () => {
    const dataDir = path.join(root, 'fresh');
    const server = PrivateRedis.for(`redis://127.0.0.1:${await freePort()}`, dataDir);
    if (!server) throw new Error('a local REDIS_URL gets a private server');
    try {
      await server.start();
      expect(await modeOf(path.join(dataDir, 'redis'))).toBe(0o700);
    } finally {
      await server.stop();
    }
  });
});

describe('a private Redis for a REDIS_URL elsewhere', () => {
  it('is not started: only this machine’s addresses get one', () => {
    expect(PrivateRedis.for('redis://redis.internal:6379', '/tmp/x')).toBeUndefined();
    expect(PrivateRedis.for('redis://127.0.0.1:6390', '/tmp/x')?.port).toBe(6390);
    expect(PrivateRedis.for('redis://localhost', '/tmp/x')?.port).toBe(6379);
  });
});
