/** The last Segmind credit balance a worker saw, kept in Redis for operators (GET /v1/admin/status). */
import type { Redis } from 'ioredis';

export async function recordCredits(redis: Redis, prefix: string, balance: number): Promise<void> {
  await redis.set(`${prefix}:credits`, JSON.stringify({ balance, observed_at: new Date().toISOString() }));
}
