// The enqueue rate charges the requests of one tick together: each all or nothing, in the order they came.
import { createRedis } from '@renderq/shared';
import { type RedisHandle, startRedis, uniqueName } from '@renderq/testing';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RetryLaterProblem } from '../src/http/problems.js';
import { EnqueueRate } from '../src/services/enqueue-rate.js';

let server: RedisHandle;
let redis: Redis;
beforeAll(async () => {
  server = await startRedis();
  redis = createRedis(server.url, 'client');
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

describe('the enqueue rate', () => {
  it('charges concurrent requests from one bucket, each whole or not at all, per tenant', async () => {
    let refused = 0;
    const rate = new EnqueueRate(redis, uniqueName('rate'), {
      perSecond: 0.001,
      burst: 5,
      onRefused: () => refused++,
    });
    // Same tick: 2 + 4 + 3 from a bucket of 5. The 4 does not fit after the 2; the 3 does.
    const answers = await Promise.allSettled([
      rate.charge('acme', 2),
      rate.charge('acme', 4),
      rate.charge('acme', 3),
      rate.charge('globex', 5),
    ]);
    expect(answers.map((a) => a.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    const problem = (answers[1] as PromiseRejectedResult).reason;
    expect(problem).toBeInstanceOf(RetryLaterProblem);
    expect(String(problem.message)).toContain('this request needs 4 and 3 are available');
    expect(refused).toBe(1);
    // The bucket is empty now, for this API process and any other.
    await expect(rate.charge('acme', 1)).rejects.toBeInstanceOf(RetryLaterProblem);
    await expect(rate.charge('globex', 1)).rejects.toBeInstanceOf(RetryLaterProblem);
  });
});
