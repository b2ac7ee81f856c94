// Each tenant's backlog quota, taken by four API processes at once: no tenant is ever admitted
// past its quota, a batch is admitted whole or not at all, nothing of a refused request is stored,
// and the count returns to zero as every job ends (completed, failed, cancelled — with its request
// still followed at Segmind — or failed after an ambiguous submit).
import type { AdminStatus } from '@renderq/contract';
import { backlogClaimsKey } from '@renderq/shared/keys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Answer, closeApis, jobIdsOf, startApis, type TestApi, VEGA } from './server.js';

const QUOTA = 25;
const env = {
  TENANT_BACKLOG_QUOTA: String(QUOTA),
  TENANT_BACKLOG_QUOTAS: 'globex:4',
  TENANT_ENQUEUE_RATE: '0',
  TENANT_WEIGHTS: 'globex:3',
};

describe('the backlog quota', () => {
  let apis: TestApi[] = [];
  beforeAll(async () => {
    apis = await startApis(4, env);
  });
  afterAll(() => closeApis(apis));

  it('admits no tenant past its quota under concurrent enqueue from four API processes, and frees it as jobs end', async () => {
    const [api] = apis as [TestApi];
    // 40 single jobs and 8 batches of 3 for acme (64 against a quota of 25), 6 single jobs for globex (quota 4).
    const requests: { tenant: 'acme' | 'globex'; jobs: number; answer: Promise<Answer> }[] = [];
    for (let i = 0; i < 40; i++) {
      requests.push({ tenant: 'acme', jobs: 1, answer: apis[i % 4]!.call('POST', '/v1/jobs', { body: VEGA }) });
      if (i % 5 === 0) {
        requests.push({
          tenant: 'acme',
          jobs: 3,
          answer: apis[(i + 1) % 4]!.call('POST', '/v1/batches', { body: { jobs: [VEGA, VEGA, VEGA] } }),
        });
      }
      if (i < 6) {
        requests.push({
          tenant: 'globex',
          jobs: 1,
          answer: apis[(i + 2) % 4]!.call('POST', '/v1/jobs', { tenant: 'globex', body: VEGA }),
        });
      }
    }
    const admitted = { acme: 0, globex: 0 };
    const ids: string[] = [];
    for (const request of requests) {
      const answer = await request.answer;
      if (answer.status === 202) {
        admitted[request.tenant] += request.jobs;
        const body = answer.json();
        if (request.tenant === 'acme') ids.push(...jobIdsOf(body));
        continue;
      }
      expect(answer.status).toBe(429);
      expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(answer.json().detail).toMatch(
        new RegExp(
          `tenant ${request.tenant} has \\d+ unfinished jobs .* at most ${request.tenant === 'acme' ? QUOTA : 4}`,
        ),
      );
    }
    // Never past the quota; and at most a batch short of it (64 asked for).
    expect(admitted.acme).toBeLessThanOrEqual(QUOTA);
    expect(admitted.acme).toBeGreaterThan(QUOTA - 3);
    expect(admitted.globex).toBe(4);
    // Nothing of a refused request was stored: the tenant's jobs are exactly those admitted.
    const listed = await api.call('GET', '/v1/jobs?limit=100');
    expect((listed.json().jobs as unknown[]).length).toBe(admitted.acme);
    expect(await api.store.unfinishedJobsOf('acme')).toBe(admitted.acme);
    expect(await api.redis.hlen(backlogClaimsKey(api.prefix))).toBe(0);

    // Each tenant sees its own count, limits and fair share; operators see every tenant's. No worker
    // runs here: every job still waits for its share, acme at weight 1 beside globex at 3.
    expect((await api.call('GET', '/v1/tenant')).json()).toEqual({
      tenant: 'acme',
      unfinished_jobs: admitted.acme,
      backlog_quota: QUOTA,
      enqueue_rate: null,
      weight: 1,
      waiting_jobs: admitted.acme,
      share_now: 0.25,
      spend: {
        day: {
          start: expect.any(String),
          reserved_usd: Math.round(admitted.acme * 2_000) / 1e6,
          settled_usd: 0,
          budget_usd: null,
        },
        month: {
          start: expect.any(String),
          reserved_usd: Math.round(admitted.acme * 2_000) / 1e6,
          settled_usd: 0,
          budget_usd: null,
        },
      },
    });
    expect((await api.call('GET', '/v1/tenant', { tenant: 'globex' })).json()).toMatchObject({
      unfinished_jobs: 4,
      backlog_quota: 4,
    });
    const all = await api.call('GET', '/v1/admin/tenants', { tenant: 'operator' });
    expect(all.json().tenants).toEqual([
      expect.objectContaining({ tenant: 'acme', unfinished_jobs: admitted.acme, backlog_quota: QUOTA, weight: 1 }),
      {
        tenant: 'globex',
        unfinished_jobs: 4,
        backlog_quota: 4,
        enqueue_rate: null,
        weight: 3,
        waiting_jobs: 4,
        share_now: 0.75,
        spend: expect.objectContaining({ day: expect.objectContaining({ reserved_usd: 0.008 }) }),
      },
    ]);
    expect((await api.call('GET', '/v1/admin/tenants')).status).toBe(403);
    const status = (await api.call('GET', '/v1/admin/status', { tenant: 'operator' })).json() as AdminStatus;
    expect(status.queues.render?.fair_share).toBe(admitted.acme + 4);
    const metrics = (await api.call('GET', '/metrics', { tenant: null })).text;
    expect(metrics).toContain(`renderq_tenant_unfinished_jobs{tenant="acme"} ${admitted.acme}`);
    expect(metrics).toContain('renderq_tenant_unfinished_jobs{tenant="globex"} 4');
    expect(metrics).toContain('renderq_tenant_waiting_jobs{tenant="globex"} 4');
    expect(metrics).toContain('renderq_tenant_fair_share{tenant="globex"} 0.75');
    expect(metrics).toMatch(/^renderq_queue_jobs\{queue="render",state="fair_share"\} \d+$/m);
    expect((await api.call('GET', '/v1/tenant', { tenant: null })).status).toBe(401);

    // A batch larger than the quota could never fit: a 400, not a 429 to retry.
    const huge = await api.call('POST', '/v1/batches', {
      body: { jobs: Array.from({ length: QUOTA + 1 }, () => VEGA) },
    });
    expect(huge.status).toBe(400);
    expect(huge.json().detail).toContain('split it');

    // Every way a job ends frees its place: completed, failed before a submit, failed after an
    // ambiguous submit, cancelled while queued, cancelled while Segmind runs it (still followed).
    const [done, queuedFail, ambiguous, cancelQueued, cancelRunning, ...rest] = ids as [string, ...string[]];
    await api.complete(done);
    await api.store.transition(queuedFail as string, 'fail_queued', {
      name: 'failed',
      error: { code: 'timeout', message: 'deadline' },
    });
    await api.store.transition(ambiguous as string, 'submit', { name: 'submitting', since: new Date().toISOString() });
    await api.store.transition(ambiguous as string, 'fail_submit', {
      name: 'failed',
      error: { code: 'segmind_ambiguous_submit', message: 'no answer' },
    });
    expect((await api.call('POST', `/v1/jobs/${cancelQueued}/cancel`)).status).toBe(200);
    await api.start(cancelRunning as string);
    expect((await api.call('POST', `/v1/jobs/${cancelRunning}/cancel`)).status).toBe(200);
    expect(await api.store.unfinishedJobsOf('acme')).toBe(admitted.acme - 5);

    // Room again: as many as were freed are admitted, and no more.
    const again = await Promise.all(apis.map((a) => a.call('POST', '/v1/batches', { body: { jobs: [VEGA, VEGA] } })));
    expect(again.filter((a) => a.status === 202).length).toBe(Math.floor((QUOTA - admitted.acme + 5) / 2));
    for (const answer of again) if (answer.status === 202) rest.push(...jobIdsOf(answer.json()));

    // Every job ends: the count is zero, and no claim is left open.
    for (const id of rest) expect((await api.call('POST', `/v1/jobs/${id}/cancel`)).status).toBe(200);
    expect(await api.store.unfinishedJobsOf('acme')).toBe(0);
    expect(await api.redis.hlen(backlogClaimsKey(api.prefix))).toBe(0);
  });
});
