// Graceful shutdown: a batch accepted just before the server closes is still fully enqueued.
import { QUEUE_NAMES, queueOptions } from '@renderq/shared';
import { unenqueuedKey } from '@renderq/shared/keys';
import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { startApi, VEGA } from './server.js';

describe('closing the API', () => {
  it('finishes enqueueing accepted batches before it lets go of Redis', async () => {
    const api = await startApi();
    const jobs = Array.from({ length: 3_000 }, (_, i) => ({ ...VEGA, metadata: { i } }));
    const created = await api.call('POST', '/v1/batches', { body: { jobs } });
    expect(created.status).toBe(202);
    await api.app.close();
    const queue = new Queue(QUEUE_NAMES.render, queueOptions(api.redis, api.prefix));
    // Each job on the render queue, or (fair share) in its tenant's ready set waiting for release.
    expect((await queue.count()) + (await api.store.waitingForShare())).toBe(3_000);
    expect(await api.store.waitingForShare()).toBe(3_000);
    expect(await api.redis.zcard(unenqueuedKey(api.prefix))).toBe(0);
    await queue.close();
    await api.close();
  });
});
