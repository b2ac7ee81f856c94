/**
 * `pnpm start` on a machine without Redis: when nothing answers at REDIS_URL and it
 * names this machine, start a private redis-server with its data under ./data/redis
 * (AOF on), so jobs survive a restart of `pnpm start`.
 */
import path from 'node:path';
import { RedisServerProcess } from '@renderq/testing';
import { Redis } from 'ioredis';

export async function redisAnswers(url: string, timeoutMs = 1_500): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
  });
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

/** A private server for `url`, or undefined when the URL is not on this machine. */
export function privateRedisFor(url: string, dataDir: string): RedisServerProcess | undefined {
  const parsed = new URL(url);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname)) return undefined;
  return new RedisServerProcess({
    port: Number(parsed.port || 6379),
    dir: path.join(dataDir, 'redis'),
    logFile: path.join(dataDir, 'redis', 'redis.log'),
  });
}
