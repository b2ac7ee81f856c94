// Each tenant's spend budgets, taken by four API processes at once: no tenant's reserved and settled
// spend ever passes a budget, a batch is admitted whole or not at all, nothing of a refused request
// is stored, and every reservation returns to zero as the jobs end — settled at what Segmind
// charged, let go when unbilled, counted as spent when Segmind may have billed without saying.
import type { TenantList, TenantSpend } from '@renderq/contract';
import { eventKey } from '@renderq/shared/keys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Answer, closeApis, jobIdsOf, startApi, startApis, type TestApi, VEGA } from './server.js';

const PRICE = 0.002; // segmind-vega, per image
const DAILY = 0.05; // 25 one-image jobs
const env = {
  TENANT_BACKLOG_QUOTA: '0',
  TENANT_ENQUEUE_RATE: '0',
  TENANT_DAILY_BUDGET_USD: String(DAILY),
  TENANT_MONTHLY_BUDGETS_USD: 'globex:0.01',
  WEBHOOK_SECRET: 'whsec_dGVzdC1zZWNyZXQtZm9yLXNwZW5kLWJ1ZGdldHM=',
  WEBHOOK_ALLOW_PRIVATE: 'true',
};
const HOOK = 'http://127.0.0.1:9/hook';

/** Rounds away the float error of summing USD amounts. */
const cents = (usd: number) => Math.round(usd * 1e6) / 1e6;

describe('spend budgets', () => {
  let apis: TestApi[] = [];
  beforeAll(async () => {
    apis = await startApis(4, env);
  });
  afterAll(() => closeApis(apis));

  const spend = async (tenant: 'acme' | 'globex' = 'acme') =>
    (await (apis[0] as TestApi).call('GET', '/v1/tenant', { tenant })).json().spend as TenantSpend;

  it('never lets four API processes admit past a budget, and settles every reservation as the jobs end', async () => {
    const [api] = apis as [TestApi];
    // 40 single jobs and 8 batches of 3 for acme (64 jobs, $0.128 against $0.05 a day); 8 for globex ($0.01 a month).
    const requests: { tenant: 'acme' | 'globex'; jobs: number; answer: Promise<Answer> }[] = [];
    for (let i = 0; i < 40; i++) {
      requests.push({ tenant: 'acme', jobs: 1, answer: apis[i % 4]!.call('POST', '/v1/jobs', { body: VEGA }) });
      if (i % 5 === 0) {
        const body = { jobs: [VEGA, VEGA, VEGA], webhook_url: HOOK };
        requests.push({ tenant: 'acme', jobs: 3, answer: apis[(i + 1) % 4]!.call('POST', '/v1/batches', { body }) });
      }
      if (i < 8) {
        const body = { ...VEGA, webhook_url: HOOK };
        requests.push({
          tenant: 'globex',
          jobs: 1,
          answer: apis[(i + 2) % 4]!.call('POST', '/v1/jobs', { tenant: 'globex', body }),
        });
      }
    }
    const admitted = { acme: 0, globex: 0 };
    const ids: string[] = [];
    for (const request of requests) {
      const answer = await request.answer;
      if (answer.status === 202) {
        admitted[request.tenant] += request.jobs;
        if (request.tenant === 'acme') ids.push(...jobIdsOf(answer.json()));
        continue;
      }
      expect(answer.status).toBe(402);
      expect(answer.json().type).toBe('https://renderq.dev/problems/budget-exceeded');
      expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(answer.json().detail).toMatch(
        request.tenant === 'acme'
          ? /^tenant acme has spent or reserved \$0\.\d+ of its daily budget of \$0\.05 \(UTC day \d{4}-\d\d-\d\d\) and this request reserves \$0\.00[26]: the budget renews at \d{4}-\d\d-\d\dT00:00:00\.000Z/
          : /^tenant globex has spent or reserved \$0\.01 of its monthly budget of \$0\.01 \(UTC month \d{4}-\d\d\)/,
      );
    }
    // Never past the budget, and at most a batch short of it.
    expect(admitted.acme).toBeLessThanOrEqual(25);
    expect(admitted.acme).toBeGreaterThan(25 - 3);
    expect(admitted.globex).toBe(5);
    const listed = await api.call('GET', '/v1/jobs?limit=100');
    expect((listed.json().jobs as unknown[]).length).toBe(admitted.acme);
    const today = await spend();
    expect(today.day).toEqual({
      start: expect.stringMatching(/^\d{4}-\d\d-\d\d$/),
      reserved_usd: cents(admitted.acme * PRICE),
      settled_usd: 0,
      budget_usd: DAILY,
    });
    expect(today.month).toMatchObject({ reserved_usd: cents(admitted.acme * PRICE), budget_usd: null });
    expect((await spend('globex')).month).toMatchObject({ reserved_usd: 0.01, budget_usd: 0.01 });
    const all = (await api.call('GET', '/v1/admin/tenants', { tenant: 'operator' })).json() as TenantList;
    expect(all.tenants.map((t) => t.spend.day.reserved_usd)).toEqual([cents(admitted.acme * PRICE), 0.01]);

    // Past 80 %: one warning per tenant and period, to the webhook of the request that crossed it.
    const day = today.day.start as string;
    const month = day.slice(0, 7);
    const warning = await api.redis.hgetall(eventKey(api.prefix, `evt_globex_budget_warning_${month}`));
    expect(warning).toMatchObject({ type: 'tenant.budget_warning', subject_kind: 'tenant', url: HOOK });
    expect(JSON.parse(warning.data as string)).toEqual({
      tenant: 'globex',
      period: 'month',
      period_start: month,
      budget_usd: 0.01,
      spent_usd: 0.008,
    });
    // acme's crossing came with a batch (the only requests with a webhook) or not at all.
    const acmeWarning = await api.redis.hgetall(eventKey(api.prefix, `evt_acme_budget_warning_${day}`));
    if (acmeWarning.id) expect(JSON.parse(acmeWarning.data as string).spent_usd).toBeGreaterThanOrEqual(0.04);
    const metrics = (await api.call('GET', '/metrics', { tenant: null })).text;
    expect(metrics).toContain('renderq_tenant_budget_used_ratio{tenant="globex",period="month"} 1');
    expect(metrics).toMatch(/renderq_tenant_budget_used_ratio\{tenant="acme",period="day"\} 0\.[89]\d*|1/);
    expect(metrics).toMatch(/renderq_requests_refused_total\{reason="spend_budget"\} \d+/);

    // A request that could never fit is a 402 without Retry-After; a model with no price cannot be reserved.
    const huge = await api.call('POST', '/v1/batches', { body: { jobs: Array.from({ length: 26 }, () => VEGA) } });
    expect(huge.status).toBe(402);
    expect(huge.json().detail).toMatch(
      /more than tenant acme's whole daily budget of \$0\.05: it could never be admitted; split it/,
    );

    // Every way a job ends settles its reservation.
    const [
      done,
      cheaper,
      queuedFail,
      ambiguous,
      rejected,
      expired,
      failedAtSegmind,
      cancelQueued,
      cancelRunning,
      cancelStoring,
      cancelSubmitting,
      ...rest
    ] = ids as string[];
    const submit = (id: string) =>
      api.store.transition(id, 'submit', { name: 'submitting', since: new Date().toISOString() });
    const fail = (id: string, move: 'fail_queued' | 'fail_submit' | 'fail_poll', code: string) =>
      api.store.transition(id, move, { name: 'failed', error: { code, message: code } } as never);
    await api.complete(done as string); // Segmind said $0.002: settled
    await api.start(cheaper as string);
    // Segmind said $0.0015 (less than the price reserved): settled at that, the rest let go.
    const storing = { name: 'storing' as const, request_id: `req-${cheaper}`, sources: [] as string[], attempts: 0 };
    await api.store.transition(cheaper as string, 'result', storing, { cost: 0.0015 });
    await api.store.transition(cheaper as string, 'complete', { name: 'completed' }, { outputs: [] });
    await fail(queuedFail as string, 'fail_queued', 'timeout'); // never submitted: let go
    await submit(ambiguous as string);
    await fail(ambiguous as string, 'fail_submit', 'segmind_ambiguous_submit'); // may be billed: spent
    await submit(rejected as string);
    await fail(rejected as string, 'fail_submit', 'segmind_rejected'); // refused: let go
    await api.start(expired as string);
    await fail(expired as string, 'fail_poll', 'segmind_expired'); // ran, cost unknown: spent
    await api.start(failedAtSegmind as string);
    await fail(failedAtSegmind as string, 'fail_poll', 'segmind_failed'); // Segmind charges nothing: let go
    expect((await api.call('POST', `/v1/jobs/${cancelQueued}/cancel`)).status).toBe(200); // let go
    await api.start(cancelRunning as string);
    expect((await api.call('POST', `/v1/jobs/${cancelRunning}/cancel`)).status).toBe(200);
    // Cancelled once Segmind had finished it, no cost said: spent.
    await api.start(cancelStoring as string);
    await api.store.transition(
      cancelStoring as string,
      'result',
      { ...storing, request_id: `req-${cancelStoring}` },
      {},
    );
    expect((await api.call('POST', `/v1/jobs/${cancelStoring}/cancel`)).status).toBe(200);
    // Cancelled during its submit (let go), then Segmind took the request after all and its cost
    // stayed unknown: what it reserved is spent.
    await submit(cancelSubmitting as string);
    expect((await api.call('POST', `/v1/jobs/${cancelSubmitting}/cancel`)).status).toBe(200);
    const late = {
      request_id: `req-${cancelSubmitting}`,
      status_url: 'https://segmind.test/s',
      response_url: 'https://segmind.test/r',
      submitted_at: new Date().toISOString(),
      polls: 0,
    };
    expect(await api.store.followCancelled(cancelSubmitting as string, late, 'start')).toBe(true);
    const lateRecord = await api.store.get(cancelSubmitting as string);
    expect(await api.store.settleCancelled(lateRecord!, late.request_id, null)).toBe(true);
    // Still followed at Segmind: its reservation stands until the request is settled.
    const settled = PRICE + 0.0015 + PRICE + PRICE + PRICE + PRICE;
    expect((await spend()).day).toMatchObject({
      reserved_usd: cents((admitted.acme - 10) * PRICE),
      settled_usd: cents(settled),
    });
    const record = await api.store.get(cancelRunning as string);
    expect(await api.store.settleCancelled(record!, `req-${cancelRunning}`, 0.0025)).toBe(true);

    // Room again: the budget frees what was let go, and no more.
    const free = DAILY - (admitted.acme - 11) * PRICE - settled - 0.0025;
    const again = await Promise.all(apis.map((a) => a.call('POST', '/v1/jobs', { body: VEGA })));
    expect(again.filter((a) => a.status === 202).length).toBe(Math.min(4, Math.floor(cents(free) / PRICE + 1e-9)));
    for (const answer of again) if (answer.status === 202) rest.push(...jobIdsOf(answer.json()));

    // Every job ends: nothing stays reserved, and the settled spend is what Segmind charged or may have.
    for (const id of rest) expect((await api.call('POST', `/v1/jobs/${id}/cancel`)).status).toBe(200);
    expect((await spend()).day).toMatchObject({ reserved_usd: 0, settled_usd: cents(settled + 0.0025) });
    expect((await spend()).month).toMatchObject({ reserved_usd: 0, settled_usd: cents(settled + 0.0025) });
  });

  it('refuses a model with no price when the tenant has a budget, and names the setting', async () => {
    const unknown = await startApi({ ...env, RENDERQ_ALLOW_UNKNOWN_MODELS: 'true' });
    try {
      const answer = await unknown.call('POST', '/v1/jobs', {
        body: { model: 'flux-schnell', input: { prompt: 'x' } },
      });
      expect(answer.status).toBe(400);
      expect(answer.json().detail).toMatch(/model "flux-schnell" has no price.*MODEL_PRICES_USD/);
      const models = (await unknown.call('GET', '/v1/models')).json().models as { name: string; price_usd: number }[];
      expect(models.find((m) => m.name === 'segmind-vega')?.price_usd).toBe(PRICE);
    } finally {
      await unknown.close();
    }
  });
});
