// A Redis nearly at its maxmemory takes no new work (503, nothing stored), while the jobs it
// already holds go on to the end; once there is room again, new work is taken.
import { type RedisHandle, startRedis, uniqueName } from '@renderq/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type TestApi, VEGA } from './server.js';

/** Long enough for the guard's next reading (every 500 ms), on a loaded machine too. */
const READING_MS = 1_500;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function usedMemory(api: TestApi): Promise<number> {
  return Number(/^used_memory:(\d+)/m.exec(await api.redis.info('memory'))?.[1]);
}

describe('the Redis memory guard', () => {
  let server: RedisHandle;
  let api: TestApi;
  beforeAll(async () => {
    // A server of its own: the test sets its maxmemory.
    server = await startRedis({ own: true });
    api = await startApi({}, { shareWith: { redisServer: server, prefix: uniqueName('memory') } });
  });
  afterAll(async () => {
    await api?.close();
    await server?.stop();
  });

  it('answers new jobs and batches 503 past 90 % of maxmemory, stores nothing, and lets accepted jobs finish', async () => {
    const accepted: string[] = [];
    for (let i = 0; i < 3; i++) {
      const answer = await api.call('POST', '/v1/jobs', { body: VEGA });
      expect(answer.status).toBe(202);
      accepted.push(answer.json().id as string);
    }
    // 8 MiB of room, then filled to 94 % of it with another tenant's data.
    const maxmemory = (await usedMemory(api)) + 8 * 1_048_576;
    await api.redis.config('SET', 'maxmemory', String(maxmemory));
    const junk = 'x'.repeat(64 * 1024);
    let keys = 0;
    while ((await usedMemory(api)) < 0.94 * maxmemory) await api.redis.set(`junk:${keys++}`, junk);
    await sleep(READING_MS);

    const job = await api.call('POST', '/v1/jobs', { body: VEGA });
    expect(job.status).toBe(503);
    expect(job.headers.get('content-type')).toContain('application/problem+json');
    expect(Number(job.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(job.json().type).toMatch(/service-unavailable$/);
    expect(job.json().detail).toMatch(/maxmemory.*REDIS_MEMORY_GUARD_PERCENT.*retry in \d+ s/);
    const batch = await api.call('POST', '/v1/batches', { body: { jobs: [VEGA, VEGA] } });
    expect(batch.status).toBe(503);
    // Nothing stored: the tenant still has its three jobs.
    const listed = await api.call('GET', '/v1/jobs?limit=100');
    expect((listed.json().jobs as unknown[]).length).toBe(3);

    // Work already accepted still moves: every job completes, its outputs recorded.
    for (const id of accepted) await api.complete(id);
    for (const id of accepted) expect((await api.call('GET', `/v1/jobs/${id}`)).json().status).toBe('completed');

    // Room again: new work is taken.
    for (let i = 0; i < keys; i++) await api.redis.del(`junk:${i}`);
    await sleep(READING_MS);
    expect((await api.call('POST', '/v1/jobs', { body: VEGA })).status).toBe(202);
  });
});
