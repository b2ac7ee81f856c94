import { type RedisHandle, startRedis } from '@renderq/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeRedis, createRedis } from '../src/index.js';
import { checkRedisDurability } from '../src/redis/create-redis.js';

let server: RedisHandle;
beforeAll(async () => {
  server = await startRedis({ own: true });
});
afterAll(() => server?.stop());

describe('Redis durability check', () => {
  it('is quiet for a Redis with AOF on and no eviction', async () => {
    const redis = createRedis(server.url, 'client');
    expect(await checkRedisDurability(redis)).toEqual({
      maxmemoryPolicy: 'noeviction',
      appendonly: 'yes',
      warnings: [],
    });
    redis.disconnect();
  });

  it('warns when Redis may evict or forget jobs', async () => {
    const redis = createRedis(server.url, 'client');
    await redis.config('SET', 'maxmemory-policy', 'allkeys-lru');
    await redis.config('SET', 'appendonly', 'no');
    try {
      const { warnings } = await checkRedisDurability(redis);
      expect(warnings).toHaveLength(2);
      expect(warnings[0]).toContain('allkeys-lru');
      expect(warnings[1]).toContain('AOF');
    } finally {
      await redis.config('SET', 'maxmemory-policy', 'noeviction');
      await redis.config('SET', 'appendonly', 'yes');
      redis.disconnect();
    }
  });
});

describe('closeRedis', () => {
  it('closes a connection, and treats one already closed as done', async () => {
    const redis = createRedis(server.url, 'worker');
    await redis.ping();
    await closeRedis(redis);
    expect(redis.status).toBe('end');
    await expect(closeRedis(redis)).resolves.toBeUndefined();
    const dropped = createRedis(server.url, 'worker');
    await dropped.ping();
    dropped.disconnect();
    await expect(closeRedis(dropped)).resolves.toBeUndefined();
  });

  it('does not wait forever for a Redis that is gone (QUIT would sit in the offline queue)', async () => {
    const gone = await startRedis({ own: true });
    const redis = createRedis(gone.url, 'worker');
    redis.on('error', () => {});
    await redis.ping();
    await gone.kill();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = Date.now();
    await closeRedis(redis, 500);
    // Nothing is left that would reconnect (and keep the process alive): with Redis back, it stays away.
    await gone.start();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(redis.status).not.toBe('ready');
    expect(Date.now() - started).toBeLessThan(5_000);
    await gone.stop().catch(() => undefined);
  });
});
