// Every route and status code of docs/api.md, against a running server and real Redis.
import { batchKey, idempotencyKey, jobKey } from '@renderq/shared/keys';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mismatches } from './schema-conformance.js';
import { startApi, type TestApi, VEGA } from './server.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let api: TestApi;
beforeAll(async () => {
  api = await startApi();
});
afterAll(() => api?.close());

const isProblem = (
  answer: { status: number; headers: Headers; json: () => Record<string, unknown> },
  status: number,
) => {
  expect(answer.status).toBe(status);
  expect(answer.headers.get('content-type')).toContain('application/problem+json');
  expect(answer.json()).toMatchObject({
    type: expect.any(String),
    title: expect.any(String),
    status,
    detail: expect.any(String),
  });
};

describe('authentication', () => {
  it('needs a key on every /v1 route (401), and none on health, metrics and the docs', async () => {
    isProblem(await api.call('POST', '/v1/jobs', { tenant: null, body: VEGA }), 401);
    isProblem(
      await api.call('GET', '/v1/models', { tenant: null, headers: { authorization: 'Bearer wrong-key-0000000' } }),
      401,
    );
    for (const route of ['/healthz', '/readyz', '/metrics', '/openapi.json', '/docs']) {
      expect((await api.call('GET', route, { tenant: null })).status).toBe(200);
    }
  });
});

describe('POST /v1/jobs', () => {
  it('answers 202 with the job, defaults filled in, queued', async () => {
    const created = await api.call('POST', '/v1/jobs', {
      body: { ...VEGA, metadata: { order: 42 }, webhook_url: 'https://hooks.example/x' },
    });
    expect(created.status).toBe(202);
    expect(created.json()).toMatchObject({
      id: expect.stringMatching(/^job_/),
      model: 'segmind-vega',
      status: 'queued',
      input: { prompt: 'a lighthouse at dusk', samples: 1, scheduler: 'DPM2 Karras', num_inference_steps: 25 },
      metadata: { order: 42 },
      batch_id: null,
      segmind_request_id: null,
      outputs: [],
      error: null,
      cost: null,
      started_at: null,
      finished_at: null,
    });
    expect(created.json()).toMatchObject({
      webhook_url: 'https://hooks.example/x',
      webhook_events: null,
      priority: 1,
    });
  });

  it('takes a start-by deadline as start_by or ttl_seconds, never both, never past, within 30 days', async () => {
    const before = Date.now();
    const ttl = await api.call('POST', '/v1/jobs', { body: { ...VEGA, ttl_seconds: 600 } });
    expect(ttl.status).toBe(202);
    const startBy = Date.parse(ttl.json().start_by as string);
    expect(startBy).toBeGreaterThanOrEqual(before + 600_000);
    expect(startBy).toBeLessThanOrEqual(Date.now() + 600_000);
    const at = await api.call('POST', '/v1/jobs', { body: { ...VEGA, start_by: '2099-01-01T00:00:00+01:00' } });
    isProblem(at, 400);
    expect(at.json().errors).toEqual([{ path: 'start_by', message: 'must be within 30 days' }]);
    const soon = new Date(Date.now() + 3_600_000).toISOString();
    const given = await api.call('POST', '/v1/jobs', { body: { ...VEGA, start_by: soon } });
    expect(given.status).toBe(202);
    expect(given.json().start_by).toBe(soon);
    expect((await api.call('POST', '/v1/jobs', { body: VEGA })).json().start_by).toBeNull();
    const both = await api.call('POST', '/v1/jobs', { body: { ...VEGA, start_by: soon, ttl_seconds: 60 } });
    isProblem(both, 400);
    expect(both.json().errors).toEqual([{ path: 'ttl_seconds', message: 'give start_by or ttl_seconds, not both' }]);
    const past = await api.call('POST', '/v1/jobs', { body: { ...VEGA, start_by: '2020-01-01T00:00:00Z' } });
    isProblem(past, 400);
    expect(past.json().errors).toEqual([{ path: 'start_by', message: expect.stringMatching(/^is in the past/) }]);
    for (const bad of [{ ttl_seconds: 0 }, { ttl_seconds: 1.5 }, { start_by: 'tomorrow' }]) {
      const answer = await api.call('POST', '/v1/jobs', { body: { ...VEGA, ...bad } });
      isProblem(answer, 400);
      expect((answer.json().errors as { path: string }[]).map((e) => e.path)).toEqual(Object.keys(bad));
    }
    const batch = await api.call('POST', '/v1/batches', { body: { jobs: [VEGA, VEGA], ttl_seconds: 60 } });
    expect(batch.status).toBe(202);
    const job = await api.call('GET', `/v1/jobs/${(batch.json().jobs as { id: string }[])[0]?.id}`);
    expect(job.json().start_by).not.toBeNull();
    expect(batch.json().counts).toMatchObject({ expired: 0 });
  });

  it('lists every wrong field with its path (400)', async () => {
    const answer = await api.call('POST', '/v1/jobs', {
      body: { model: 'segmind-vega', input: { samples: 9, scheduler: 'nope' } },
    });
    isProblem(answer, 400);
    expect((answer.json().errors as { path: string }[]).map((e) => e.path).sort()).toEqual([
      'input.prompt',
      'input.samples',
      'input.scheduler',
    ]);
    const unknown = await api.call('POST', '/v1/jobs', { body: { model: 'flux-pro', input: { prompt: 'x' } } });
    isProblem(unknown, 400);
    expect(unknown.json().errors).toEqual([{ path: 'model', message: expect.stringContaining('unknown model') }]);
    const shape = await api.call('POST', '/v1/jobs', { body: { model: 'segmind-vega', input: 'x', colour: 'red' } });
    isProblem(shape, 400);
    expect(shape.json().errors).toEqual([
      { path: 'input', message: 'must be an object' },
      { path: 'colour', message: 'is not a field renderq knows here' },
    ]);
  });

  it('says what is wrong in sentences: required, whole number, at most, one of, type, unknown parameter', async () => {
    const answer = await api.call('POST', '/v1/jobs', {
      body: {
        model: 'segmind-vega',
        input: { seed: 1.5, num_inference_steps: 101, scheduler: 'nope', negative_prompt: 5, foo: 1 },
      },
    });
    isProblem(answer, 400);
    const byPath = Object.fromEntries(
      (answer.json().errors as { path: string; message: string }[]).map((e) => [e.path, e.message]),
    );
    expect(byPath).toMatchObject({
      'input.prompt': 'is required',
      'input.seed': 'must be a whole number',
      'input.num_inference_steps': 'must be at most 100',
      'input.scheduler': expect.stringMatching(/^must be one of "DDIM", .*"UniPC"$/),
      'input.negative_prompt': 'must be a string',
      'input.foo': 'is not a parameter of segmind-vega',
    });
  });

  it('answers malformed JSON with 400, other content types with 415, too large bodies with 413', async () => {
    isProblem(
      await api.call('POST', '/v1/jobs', { raw: '{"model": ', headers: { 'content-type': 'application/json' } }),
      400,
    );
    isProblem(
      await api.call('POST', '/v1/jobs', {
        raw: 'model=x',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }),
      415,
    );
    const text = await api.call('POST', '/v1/jobs', { raw: 'x', headers: { 'content-type': 'text/plain' } });
    isProblem(text, 415);
    expect(text.json().detail).toBe('send the body as application/json (this one was text/plain)');
    const batch = await api.call('POST', '/v1/batches', { raw: 'x', headers: { 'content-type': 'text/csv' } });
    isProblem(batch, 415);
    expect(batch.json().detail).toBe(
      'send the body as application/json or application/x-ndjson (this one was text/csv)',
    );
    const huge = JSON.stringify({ ...VEGA, metadata: { blob: 'x'.repeat(33 * 1024 * 1024) } });
    isProblem(await api.call('POST', '/v1/jobs', { raw: huge, headers: { 'content-type': 'application/json' } }), 413);
  });
});

describe('GET /v1/jobs/{id} and cancel', () => {
  it('reads a job (200) and answers 404 for an unknown one', async () => {
    const { id } = (await api.call('POST', '/v1/jobs', { body: VEGA })).json() as { id: string };
    expect((await api.call('GET', `/v1/jobs/${id}`)).json()).toMatchObject({ id, status: 'queued' });
    isProblem(await api.call('GET', '/v1/jobs/job_00000000000000000000000000'), 404);
  });

  it('cancels a job not yet finished (200), and answers 409 once it has finished', async () => {
    const { id } = (await api.call('POST', '/v1/jobs', { body: VEGA })).json() as { id: string };
    const cancelled = await api.call('POST', `/v1/jobs/${id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.json()).toMatchObject({ id, status: 'cancelled', finished_at: expect.any(String) });
    isProblem(await api.call('POST', `/v1/jobs/${id}/cancel`), 409);
    const done = (await api.call('POST', '/v1/jobs', { body: VEGA })).json() as { id: string };
    await api.complete(done.id);
    isProblem(await api.call('POST', `/v1/jobs/${done.id}/cancel`), 409);
    isProblem(await api.call('POST', '/v1/jobs/job_00000000000000000000000000/cancel'), 404);
  });
});

describe('outputs', () => {
  it('streams a stored output with its type, length and an ETag from the sha256; 304 when unchanged', async () => {
    const { id } = (await api.call('POST', '/v1/jobs', { body: VEGA })).json() as { id: string };
    const [output] = await api.complete(id, 2);
    const job = (await api.call('GET', `/v1/jobs/${id}`)).json() as {
      status: string;
      cost: number;
      outputs: { url: string; sha256: string; storage_key: string }[];
    };
    expect(job).toMatchObject({ status: 'completed', cost: 0.002 });
    expect(job.outputs).toHaveLength(2);
    expect(job.outputs[0]).toMatchObject({
      sha256: output?.sha256,
      storage_key: `${id}/0.png`,
      content_type: 'image/png',
      size: output?.size,
    });
    const download = await api.call('GET', `/v1/jobs/${id}/outputs/0`);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('image/png');
    expect(download.headers.get('content-length')).toBe(String(output?.size));
    expect(download.headers.get('etag')).toBe(`"${output?.sha256}"`);
    expect(download.text).toBe(`image 0 of ${id}`);
    expect(
      (await api.call('GET', `/v1/jobs/${id}/outputs/0`, { headers: { 'if-none-match': `"${output?.sha256}"` } }))
        .status,
    ).toBe(304);
    isProblem(await api.call('GET', `/v1/jobs/${id}/outputs/7`), 404);
  });

  it('hands out links that need no key, signed and expiring; a tampered link is refused', async () => {
    const { id } = (await api.call('POST', '/v1/jobs', { body: VEGA })).json() as { id: string };
    await api.complete(id);
    const { outputs } = (await api.call('GET', `/v1/jobs/${id}`)).json() as { outputs: { url: string }[] };
    const link = new URL(outputs[0]?.url as string);
    expect(link.pathname + link.search).toMatch(/^\/v1\/jobs\/job_\w+\/outputs\/0\?expires=\d+&signature=/);
    // The link is built on PUBLIC_BASE_URL; this test's server listens elsewhere.
    const local = `${link.pathname}${link.search}`;
    const free = await api.call('GET', local, { tenant: null });
    expect(free.status).toBe(200);
    expect(free.text).toBe(`image 0 of ${id}`);
    // Its first character changed (to one it is not: a fixed replacement would leave 1 link in 64 untouched).
    const tampered = local.replace(/signature=(.)/, (_, first: string) => `signature=${first === 'A' ? 'B' : 'A'}`);
    isProblem(await api.call('GET', tampered, { tenant: null }), 401);
    isProblem(await api.call('GET', local.replace(/expires=\d+/, 'expires=1000'), { tenant: null }), 401);
    // Another job's output with this job's signature: refused.
    isProblem(
      await api.call('GET', local.replace(`/jobs/${id}/`, '/jobs/job_00000000000000000000000000/'), { tenant: null }),
      401,
    );
  });
});

describe('batches', () => {
  it('takes JSON (202) and lists its jobs as NDJSON in order', async () => {
    const jobs = Array.from({ length: 5 }, (_, i) => ({ ...VEGA, metadata: { i } }));
    const created = await api.call('POST', '/v1/batches', { body: { jobs, metadata: { run: 1 } } });
    expect(created.status).toBe(202);
    const batch = created.json() as { id: string; jobs: { index: number; id: string }[] };
    expect(batch).toMatchObject({
      status: 'running',
      metadata: { run: 1 },
      counts: { total: 5, queued: 5, running: 0, completed: 0, failed: 0, cancelled: 0 },
      cost: null,
      finished_at: null,
    });
    // The answer names each job, in request order.
    expect(batch.jobs.map((job) => job.index)).toEqual([0, 1, 2, 3, 4]);
    expect((await api.call('GET', `/v1/batches/${batch.id}`)).json()).toMatchObject({ id: batch.id });
    const listed = await api.call('GET', `/v1/batches/${batch.id}/jobs`);
    expect(listed.headers.get('content-type')).toContain('application/x-ndjson');
    const lines = listed.text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines.map((job) => job.metadata.i)).toEqual([0, 1, 2, 3, 4]);
    expect(lines.every((job) => job.batch_id === batch.id)).toBe(true);
    expect(lines.map((job) => job.id)).toEqual(batch.jobs.map((job) => job.id));
    expect((await api.call('GET', `/v1/batches/${batch.id}`)).json()).not.toHaveProperty('jobs');
  });

  it("keeps a batch's cost: null until a job has one, then the sum of its jobs' costs", async () => {
    const batch = (await api.call('POST', '/v1/batches', { body: { jobs: [VEGA, VEGA, VEGA] } })).json() as {
      id: string;
      jobs: { id: string }[];
    };
    await api.complete(batch.jobs[0]?.id as string);
    expect((await api.call('GET', `/v1/batches/${batch.id}`)).json()).toMatchObject({ cost: 0.002 });
    await api.complete(batch.jobs[2]?.id as string);
    await api.call('POST', `/v1/jobs/${batch.jobs[1]?.id}/cancel`);
    expect((await api.call('GET', `/v1/batches/${batch.id}`)).json()).toMatchObject({
      status: 'completed',
      cost: 0.004,
      counts: { completed: 2, cancelled: 1 },
    });
  });

  it('takes NDJSON with webhook_url as a query parameter', async () => {
    const ndjson = `${JSON.stringify(VEGA)}\n${JSON.stringify({ ...VEGA, metadata: { n: 2 } })}\n`;
    const created = await api.call('POST', '/v1/batches?webhook_url=https://hooks.example/b', {
      raw: ndjson,
      headers: { 'content-type': 'application/x-ndjson' },
    });
    expect(created.status).toBe(202);
    expect(created.json()).toMatchObject({ counts: { total: 2 }, cost: null });
    expect((created.json().jobs as { index: number }[]).map((job) => job.index)).toEqual([0, 1]);
    // A query parameter it does not know (a misspelt webhook_url, say) is an error, not ignored.
    const misspelt = await api.call('POST', '/v1/batches?webhook=https://hooks.example/b', {
      raw: ndjson,
      headers: { 'content-type': 'application/x-ndjson' },
    });
    isProblem(misspelt, 400);
    expect(JSON.stringify(misspelt.json().errors)).toContain('webhook');
    // A JSON batch says everything in its body: a query would be dropped, so it is refused.
    const jsonWithQuery = await api.call('POST', '/v1/batches?priority=1', { body: { jobs: [VEGA] } });
    isProblem(jsonWithQuery, 400);
    expect(jsonWithQuery.json().errors).toEqual([{ path: 'query.priority', message: 'not taken with a JSON body' }]);
  });

  it('is all or nothing: one invalid job and nothing is enqueued, errors by index (JSON) or line (NDJSON)', async () => {
    const before = await api.redis.keys(batchKey(api.prefix, '*'));
    const json = await api.call('POST', '/v1/batches', {
      body: {
        jobs: [VEGA, { model: 'segmind-vega', input: { samples: 0 } }, VEGA, { model: 'x', input: { prompt: 'x' } }],
      },
    });
    isProblem(json, 400);
    expect(json.json().errors).toEqual([
      { index: 1, path: 'input.prompt', message: expect.any(String) },
      { index: 1, path: 'input.samples', message: expect.any(String) },
      { index: 3, path: 'model', message: expect.stringContaining('unknown model') },
    ]);
    const ndjson = await api.call('POST', '/v1/batches', {
      raw: `${JSON.stringify(VEGA)}\n{"model": "segmind-vega"\n${JSON.stringify({ model: 'segmind-vega', input: { prompt: 1 } })}\n`,
      headers: { 'content-type': 'application/x-ndjson' },
    });
    isProblem(ndjson, 400);
    expect(
      (ndjson.json().errors as { line: number; path: string }[]).map(({ line, path }) => ({ line, path })),
    ).toEqual([
      { line: 2, path: '' },
      { line: 3, path: 'input.prompt' },
    ]);
    expect(await api.redis.keys(batchKey(api.prefix, '*'))).toEqual(before);
  });

  it('refuses more than 10,000 jobs with 413', async () => {
    const jobs = Array.from({ length: 10_001 }, () => VEGA);
    isProblem(await api.call('POST', '/v1/batches', { body: { jobs } }), 413);
    const ndjson = `${jobs.map((job) => JSON.stringify(job)).join('\n')}\n`;
    isProblem(
      await api.call('POST', '/v1/batches', { raw: ndjson, headers: { 'content-type': 'application/x-ndjson' } }),
      413,
    );
  });

  it('cancels every job not yet finished (200), then answers 409', async () => {
    const batch = (await api.call('POST', '/v1/batches', { body: { jobs: [VEGA, VEGA, VEGA] } })).json() as {
      id: string;
    };
    const listed = (await api.call('GET', `/v1/batches/${batch.id}/jobs`)).text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    await api.complete(listed[0].id);
    const cancelled = await api.call('POST', `/v1/batches/${batch.id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.json()).toMatchObject({
      status: 'cancelled',
      counts: { total: 3, completed: 1, cancelled: 2 },
      finished_at: expect.any(String),
    });
    isProblem(await api.call('POST', `/v1/batches/${batch.id}/cancel`), 409);
    isProblem(await api.call('GET', '/v1/batches/bat_00000000000000000000000000'), 404);
  });
});

describe('tenant isolation', () => {
  it("gives tenant B a 404 for each of tenant A's jobs, batches, outputs and cancels", async () => {
    const { id } = (await api.call('POST', '/v1/jobs', { body: VEGA, tenant: 'acme' })).json() as { id: string };
    await api.complete(id);
    const batch = (await api.call('POST', '/v1/batches', { body: { jobs: [VEGA] }, tenant: 'acme' })).json() as {
      id: string;
    };
    for (const [method, route] of [
      ['GET', `/v1/jobs/${id}`],
      ['POST', `/v1/jobs/${id}/cancel`],
      ['GET', `/v1/jobs/${id}/outputs/0`],
      ['GET', `/v1/batches/${batch.id}`],
      ['GET', `/v1/batches/${batch.id}/jobs`],
      ['POST', `/v1/batches/${batch.id}/cancel`],
    ] as const) {
      isProblem(await api.call(method, route, { tenant: 'globex' }), 404);
    }
    expect((await api.call('GET', `/v1/jobs/${id}`, { tenant: 'acme' })).status).toBe(200);
  });
});

describe('Idempotency-Key', () => {
  it('answers retries with the first answer, a different body with 422, per tenant', async () => {
    const headers = { 'idempotency-key': 'order-1' };
    const first = await api.call('POST', '/v1/jobs', { body: VEGA, headers });
    // The same body compared as parsed JSON: key order and spacing do not matter.
    const again = await api.call('POST', '/v1/jobs', {
      raw: '{ "input": {"prompt": "a lighthouse at dusk"}, "model": "segmind-vega" }',
      headers: { ...headers, 'content-type': 'application/json' },
    });
    expect(again.status).toBe(202);
    expect(again.json()).toEqual(first.json());
    isProblem(await api.call('POST', '/v1/jobs', { body: { ...VEGA, input: { prompt: 'other' } }, headers }), 422);
    const otherTenant = await api.call('POST', '/v1/jobs', { body: VEGA, headers, tenant: 'globex' });
    expect(otherTenant.status).toBe(202);
    expect(otherTenant.json().id).not.toBe(first.json().id);
    // Errors are answered the same way again too.
    const bad = await api.call('POST', '/v1/jobs', {
      body: { model: 'segmind-vega', input: {} },
      headers: { 'idempotency-key': 'bad-1' },
    });
    const badAgain = await api.call('POST', '/v1/jobs', {
      body: { model: 'segmind-vega', input: {} },
      headers: { 'idempotency-key': 'bad-1' },
    });
    expect([bad.status, badAgain.status]).toEqual([400, 400]);
    expect(badAgain.json()).toEqual(bad.json());
  });

  it('answers 409 while the first request with the key is still being handled', async () => {
    const { IdempotencyStore } = await import('../src/services/idempotency.js');
    const store = new IdempotencyStore(api.redis, api.prefix);
    // The first request has claimed the key and not answered yet.
    expect(await store.claim('acme', 'slow-1', IdempotencyStore.bodyHash(VEGA))).toMatchObject({ kind: 'new' });
    const second = await api.call('POST', '/v1/jobs', { body: VEGA, headers: { 'idempotency-key': 'slow-1' } });
    isProblem(second, 409);
    expect(second.json().detail).toContain('still being handled');
  });

  it('makes one batch of a batch request and its retries, JSON and NDJSON, answering with the first answer', async () => {
    const batchBody = { jobs: [VEGA, { ...VEGA, metadata: { n: 2 } }], metadata: { order: 7 } };
    const headers = { 'idempotency-key': 'batch-1' };
    const jobsBefore = (await api.redis.keys(jobKey(api.prefix, '*'))).length;
    const first = await api.call('POST', '/v1/batches', { body: batchBody, headers });
    expect(first.status).toBe(202);
    const again = await api.call('POST', '/v1/batches', { body: batchBody, headers });
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.json()).toEqual(first.json());
    expect((await api.redis.keys(jobKey(api.prefix, '*'))).length - jobsBefore).toBe(2);
    // Its 24 h entry keeps the batch as first answered and its id, not the job ids (up to 10,000).
    const entries = await Promise.all(
      (await api.redis.keys(idempotencyKey(api.prefix, 'acme', '*'))).map(
        async (key) => (await api.redis.get(key)) ?? '',
      ),
    );
    const entry = entries.map((raw) => JSON.parse(raw)).find((e) => e.job_id === first.json().id);
    expect(entry).toMatchObject({ state: 'done', status: 202, body: { id: first.json().id } });
    expect(entry.body).not.toHaveProperty('jobs');
    // A retry gets the first answer, not the batch as it is now.
    await api.complete((first.json().jobs as { id: string }[])[0]?.id as string);
    expect((await api.call('POST', '/v1/batches', { body: batchBody, headers })).json()).toEqual(first.json());
    // Another body under the key: 422; the key of a job is not a batch's.
    isProblem(await api.call('POST', '/v1/batches', { body: { jobs: [VEGA] }, headers }), 422);
    isProblem(
      await api.call('POST', '/v1/batches', { body: batchBody, headers: { 'idempotency-key': 'order-1' } }),
      422,
    );

    const ndjson = { raw: `${JSON.stringify(VEGA)}\n`, headers: { 'content-type': 'application/x-ndjson' } };
    const lines = await api.call('POST', '/v1/batches?priority=3', {
      ...ndjson,
      headers: { ...ndjson.headers, 'idempotency-key': 'batch-2' },
    });
    const linesAgain = await api.call('POST', '/v1/batches?priority=3', {
      ...ndjson,
      headers: { ...ndjson.headers, 'idempotency-key': 'batch-2' },
    });
    expect([lines.status, linesAgain.status]).toEqual([202, 202]);
    expect(linesAgain.json()).toEqual(lines.json());
    // The query is part of the request: the same lines with another priority are another request.
    isProblem(
      await api.call('POST', '/v1/batches?priority=4', {
        ...ndjson,
        headers: { ...ndjson.headers, 'idempotency-key': 'batch-2' },
      }),
      422,
    );
  });

  it('answers a batch retry with the batch its first request made before Redis failed it', async () => {
    const { IdempotencyStore } = await import('../src/services/idempotency.js');
    const store = new IdempotencyStore(api.redis, api.prefix);
    const batchBody = { jobs: [VEGA] };
    // The first request claimed the key for the batch it was making, made it, and never answered.
    const made = (await api.call('POST', '/v1/batches', { body: batchBody })).json();
    expect(await store.claim('acme', 'lost-1', IdempotencyStore.bodyHash(batchBody), made.id as string)).toMatchObject({
      kind: 'new',
    });
    const retry = await api.call('POST', '/v1/batches', { body: batchBody, headers: { 'idempotency-key': 'lost-1' } });
    expect(retry.status).toBe(202);
    // The same batch, read again: its events link is signed afresh (its expiry counts from this answer).
    const { events_url: link, ...batch } = retry.json();
    const { events_url: firstLink, ...firstBatch } = made;
    expect(batch).toEqual(firstBatch);
    const [path, query] = String(link).split('?');
    expect(path).toBe(String(firstLink).split('?')[0]);
    expect(query).toMatch(/^expires=\d+&signature=[\w-]+$/);
  });

  it('renews the lease of a request still creating, so that a retry never takes its key over', async () => {
    const { IdempotencyStore } = await import('../src/services/idempotency.js');
    const { answerIdempotently } = await import('../src/services/idempotent-request.js');
    // A lease of 300 ms, and a creation that takes 1.5 s (a batch storing thousands of inline images).
    const ctx = { idempotency: new IdempotencyStore(api.redis, api.prefix, 300) } as never;
    const request = { tenant: 'acme' } as never;
    const reply = () => {
      const answer = { status: 0, body: undefined as unknown };
      const self = {
        code: (status: number) => {
          answer.status = status;
          return self;
        },
        header: () => self,
        type: () => self,
        send: (body: unknown) => {
          answer.body = body;
          return answer;
        },
      };
      return self as never;
    };
    let created = 0;
    const creation = (ms: number) => ({
      request: { jobs: ['slow'] },
      newId: () => `bat_${created}`,
      made: async () => undefined,
      create: async (id: string) => {
        created++;
        await sleep(ms);
        return { status: 202, body: { id } };
      },
    });
    const first = answerIdempotently(ctx, request, reply(), 'lease-1', creation(1_500));
    await sleep(900);
    const retry = await answerIdempotently(ctx, request, reply(), 'lease-1', creation(0)).catch((error) => error);
    expect(retry).toMatchObject({ status: 409 });
    expect(await first).toMatchObject({ status: 202 });
    expect(created).toBe(1);
  });

  it('creates exactly one job from 50 concurrent identical requests', async () => {
    const before = (await api.redis.keys(jobKey(api.prefix, '*'))).length;
    const answers = await Promise.all(
      Array.from({ length: 50 }, () =>
        api.call('POST', '/v1/jobs', { body: VEGA, headers: { 'idempotency-key': 'burst-1' } }),
      ),
    );
    expect((await api.redis.keys(jobKey(api.prefix, '*'))).length - before).toBe(1);
    const accepted = answers.filter((a) => a.status === 202);
    expect(accepted.length).toBeGreaterThanOrEqual(1);
    expect(new Set(accepted.map((a) => a.json().id)).size).toBe(1);
    for (const answer of answers.filter((a) => a.status !== 202)) isProblem(answer, 409);
  });
});

describe('operations', () => {
  it('/v1/models lists the catalogue with each input JSON Schema', async () => {
    const { models } = (await api.call('GET', '/v1/models')).json() as {
      models: { name: string; input_schema: { required: string[] } }[];
    };
    expect(models.map((m) => m.name)).toHaveLength(5);
    expect(models.every((m) => m.input_schema.required.includes('prompt'))).toBe(true);
  });

  it('/readyz stays 200 while taking jobs is paused, naming the pause; /v1/admin/status shows it and resume clears it', async () => {
    const { PauseControl } = await import('@renderq/shared');
    const { Queue } = await import('bullmq');
    const queue = new Queue('render', { connection: api.redis, prefix: api.prefix });
    for (const [reason, note] of [
      ['out_of_credits', 'Segmind answered 406'],
      ['operator', 'maintenance'],
    ] as const) {
      await new PauseControl(api.redis, api.prefix, queue).pause(reason, note);
      // Ready: a load balancer keeps the API in service, and an operator can reach /v1/admin/resume.
      const paused = await api.call('GET', '/readyz', { tenant: null });
      expect(paused.status).toBe(200);
      expect(paused.json()).toEqual({ status: 'ready', pause: { reason } });
      const status = await api.call('GET', '/v1/admin/status', { tenant: 'operator' });
      expect(status.json()).toMatchObject({
        pause: { paused: true, reason },
        queues: { render: expect.any(Object), poll: expect.any(Object) },
      });
      expect((await api.call('POST', '/v1/admin/resume', { tenant: 'operator' })).json()).toEqual({ paused: false });
      expect((await api.call('GET', '/readyz', { tenant: null })).json()).toEqual({ status: 'ready', pause: null });
    }
    await queue.close();
  });

  it('/readyz is 503 while Redis does not answer (its server stopped with SIGSTOP)', async () => {
    const { startRedis, uniqueName } = await import('@renderq/testing');
    const redisServer = await startRedis({ own: true });
    const own = await startApi({}, { shareWith: { redisServer, prefix: uniqueName('ready') } });
    try {
      expect((await own.call('GET', '/readyz', { tenant: null })).status).toBe(200);
      await redisServer.freeze();
      const frozen = await own.call('GET', '/readyz', { tenant: null });
      expect(frozen.status).toBe(503);
      expect(frozen.json()).toEqual({ status: 'unavailable', reason: 'Redis does not answer' });
    } finally {
      await redisServer.thaw();
      await own.close();
      await redisServer.stop();
    }
  });

  it('/metrics counts enqueued jobs', async () => {
    expect((await api.call('GET', '/metrics', { tenant: null })).text).toMatch(
      /renderq_jobs_enqueued_total\{model="segmind-vega"\} \d+/,
    );
  });

  it('/metrics tells what the workers observed: the last credit balance, or nothing before one; queues and pause from Redis', async () => {
    const { recordCredits } = await import('@renderq/shared');
    const lines = async () => (await api.call('GET', '/metrics', { tenant: null })).text.split('\n');
    const before = await lines();
    expect(before).toContain('# TYPE renderq_segmind_credits_remaining gauge');
    expect(before.filter((line) => line.startsWith('renderq_segmind_credits_remaining '))).toEqual([]);
    // A worker saw Segmind's balance: every process's /metrics says so.
    await recordCredits(api.redis, api.prefix, 999.956);
    const after = await lines();
    expect(after).toContain('renderq_segmind_credits_remaining 999.956');
    expect(after).toContain('renderq_segmind_inflight_requests 0');
    expect(after).toContain('renderq_queue_paused{reason="out_of_credits"} 0');
    expect(after.some((line) => /^renderq_queue_jobs\{queue="render",state="prioritized"\} \d+$/.test(line))).toBe(
      true,
    );
    expect((await api.call('GET', '/v1/admin/status', { tenant: 'operator' })).json()).toMatchObject({
      credits: { balance: 999.956, observed_at: expect.any(String) },
    });
  });

  it('puts the queue dashboard behind an operator key', async () => {
    const anonymous = await api.call('GET', '/admin/queues', { tenant: null });
    isProblem(anonymous, 401);
    expect(anonymous.headers.get('www-authenticate')).toContain('Basic');
    const basic = Buffer.from('ops:operator-key-0123456789abcdef').toString('base64');
    const page = await api.call('GET', '/admin/queues', { tenant: null, headers: { authorization: `Basic ${basic}` } });
    expect(page.status).toBe(200);
    // Nothing from another origin (the board's page links a public font service): it works offline.
    expect(page.text).toContain('<div id="root">');
    expect(page.text).not.toMatch(/https?:\/\//);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const tenant = Buffer.from('acme:acme-key-0123456789').toString('base64');
    isProblem(
      await api.call('GET', '/admin/queues', { tenant: null, headers: { authorization: `Basic ${tenant}` } }),
      403,
    );
  });

  it('answers unknown routes with a 404 problem', async () => {
    isProblem(await api.call('GET', '/v2/nothing', { tenant: null }), 404);
  });

  it('/openapi.json passes a real OpenAPI validator and lists every route', async () => {
    const spec = (await api.call('GET', '/openapi.json', { tenant: null })).json();
    const { listModels, validateModelInput } = await import('@renderq/shared');
    const validator = new Validator();
    const result = await validator.validate(spec as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    const paths = spec.paths as Record<string, Record<string, unknown>>;
    const routes = Object.entries(paths).flatMap(([route, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${route}`),
    );
    expect(routes.sort()).toEqual(
      [
        'POST /v1/jobs',
        'GET /v1/jobs',
        'GET /v1/jobs/{id}',
        'GET /v1/jobs/{id}/events',
        'GET /v1/jobs/{id}/inputs/{field}',
        'GET /healthz',
        'GET /metrics',
        'POST /v1/jobs/{id}/cancel',
        'GET /v1/jobs/{id}/outputs/{index}',
        'POST /v1/batches',
        'GET /v1/batches/{id}',
        'GET /v1/batches/{id}/jobs',
        'GET /v1/batches/{id}/events',
        'POST /v1/batches/{id}/cancel',
        'GET /v1/jobs/{id}/webhook-deliveries',
        'POST /v1/jobs/{id}/webhook-deliveries/redeliver',
        'POST /v1/jobs/{id}/redeliver',
        'GET /v1/batches/{id}/webhook-deliveries',
        'POST /v1/batches/{id}/webhook-deliveries/redeliver',
        'POST /v1/batches/{id}/redeliver',
        'GET /v1/models',
        'GET /readyz',
        'GET /v1/admin/status',
        'GET /v1/tenant',
        'GET /v1/admin/tenants',
        'POST /v1/admin/pause',
        'POST /v1/admin/resume',
        'POST /v1/jobs/replay',
        'POST /v1/jobs/cancel',
        'GET /v1/operations/{id}',
        'POST /v1/operations/{id}/abort',
      ].sort(),
    );
    type Operation = {
      requestBody?: { content: Record<string, { schema: object; examples?: Record<string, { value: unknown }> }> };
      responses: Record<string, { content?: Record<string, { schema: object }> }>;
    };
    const operation = (method: string, route: string) => paths[route]?.[method] as Operation;
    // A batch is sent as JSON or as NDJSON: both are documented, with examples.
    const batchBody = operation('post', '/v1/batches').requestBody?.content ?? {};
    expect(Object.keys(batchBody).sort()).toEqual(['application/json', 'application/x-ndjson']);
    expect(Object.keys(batchBody['application/json']?.examples ?? {})).not.toHaveLength(0);
    expect(Object.keys(batchBody['application/x-ndjson']?.examples ?? {})).not.toHaveLength(0);
    // An example request for every model, each one valid.
    const examples = operation('post', '/v1/jobs').requestBody?.content['application/json']?.examples ?? {};
    expect(Object.keys(examples).sort()).toEqual(
      listModels()
        .map((model) => model.name)
        .sort(),
    );
    for (const { value } of Object.values(examples)) {
      const { model, input } = value as { model: string; input: unknown };
      expect(validateModelInput(model, input, { allowUnknown: false }).ok).toBe(true);
    }
    // The streams are documented as such; the creates take the trace context, the waits `Prefer`.
    for (const route of ['/v1/jobs/{id}/events', '/v1/batches/{id}/events']) {
      expect(Object.keys(operation('get', route).responses['200']?.content ?? {})).toEqual(['text/event-stream']);
    }
    const headersOf = (method: string, route: string) =>
      (((paths[route]?.[method] ?? {}) as { parameters?: { in: string; name: string }[] }).parameters ?? [])
        .filter((p) => p.in === 'header')
        .map((p) => p.name);
    expect(headersOf('post', '/v1/jobs')).toEqual(expect.arrayContaining(['traceparent', 'tracestate', 'prefer']));
    expect(headersOf('post', '/v1/batches')).toEqual(expect.arrayContaining(['traceparent', 'tracestate']));
    expect(headersOf('get', '/v1/jobs/{id}/events')).toContain('last-event-id');
    expect(Object.keys(operation('get', '/metrics').responses['200']?.content ?? {})).toEqual(['text/plain']);
    expect(Object.keys(operation('get', '/v1/batches/{id}/jobs').responses['200']?.content ?? {})).toEqual([
      'application/x-ndjson',
    ]);

    // What is sent is what is documented, field for field.
    const documented = (method: string, route: string, status: number) =>
      operation(method, route).responses[String(status)]?.content?.['application/json']?.schema as object;
    const { id: jobId } = (await api.call('POST', '/v1/jobs', { body: VEGA })).json() as { id: string };
    await api.complete(jobId);
    const batchAnswer = await api.call('POST', '/v1/batches', { body: { jobs: [VEGA, VEGA] } });
    const batchId = batchAnswer.json().id as string;
    const answers: [string, string, number, unknown][] = [
      ['post', '/v1/jobs', 202, (await api.call('POST', '/v1/jobs', { body: VEGA })).json()],
      ['get', '/v1/jobs/{id}', 200, (await api.call('GET', `/v1/jobs/${jobId}`)).json()],
      ['get', '/v1/jobs', 200, (await api.call('GET', '/v1/jobs?limit=3')).json()],
      ['post', '/v1/batches', 202, batchAnswer.json()],
      ['get', '/v1/batches/{id}', 200, (await api.call('GET', `/v1/batches/${batchId}`)).json()],
      ['post', '/v1/batches/{id}/cancel', 200, (await api.call('POST', `/v1/batches/${batchId}/cancel`)).json()],
      ['get', '/healthz', 200, (await api.call('GET', '/healthz', { tenant: null })).json()],
      ['get', '/readyz', 200, (await api.call('GET', '/readyz', { tenant: null })).json()],
      ['get', '/v1/models', 200, (await api.call('GET', '/v1/models')).json()],
      ['get', '/v1/jobs/{id}', 404, (await api.call('GET', '/v1/jobs/job_00000000000000000000000000')).json()],
    ];
    for (const [method, route, status, body] of answers) {
      const schema = documented(method, route, status);
      expect(schema, `${method} ${route} ${status}`).toBeDefined();
      expect(mismatches(schema as never, body), `${method} ${route} ${status}`).toEqual([]);
    }
    // The checker is not vacuous: an answer with a field the document does not have is caught.
    expect(mismatches(documented('get', '/v1/batches/{id}', 200) as never, { ...batchAnswer.json() })).toEqual([
      '$.jobs is not documented',
    ]);
  });
});

describe('validation messages', () => {
  // Every message a caller reads is renderq's sentence, never zod's default ("Invalid input: expected
  // string, received undefined"); see packages/shared/src/validation-messages.ts.
  const LIBRARY_WORDS = /invalid input|received|expected/i;
  const json = (body: unknown) => ({ body });
  const ndjson = (lines: string[]) => ({
    raw: lines.join('\n'),
    headers: { 'content-type': 'application/x-ndjson' },
  });
  const BAD: [method: string, path: string, options: Parameters<TestApi['call']>[2]][] = [
    ['POST', '/v1/jobs', json({})],
    ['POST', '/v1/jobs', json([])],
    ['POST', '/v1/jobs', json({ model: 5, input: {} })],
    ['POST', '/v1/jobs', json({ model: 'segmind-vega', input: {} })],
    ['POST', '/v1/jobs', json({ model: 'segmind-vega', input: { prompt: '' } })],
    ['POST', '/v1/jobs', json({ model: 'segmind-vega', input: { prompt: 7, seed: 1.5, samples: '2' } })],
    ['POST', '/v1/jobs', json({ model: 'segmind-vega', input: { prompt: 'x', samples: 0, img_width: 512 } })],
    ['POST', '/v1/jobs', json({ model: 'segmind-vega', input: { prompt: 'x', guidance_scale: 99, foo: 1 } })],
    ['POST', '/v1/jobs', json({ model: 'ssd-img2img', input: { prompt: 'x', image: 'not a url' } })],
    ['POST', '/v1/jobs', json({ ...VEGA, webhook_url: 'ftp://example.com/hook', webhook_events: [] })],
    ['POST', '/v1/jobs', json({ ...VEGA, webhook_events: ['job.nope', 5], priority: 0.5 })],
    ['POST', '/v1/jobs', json({ ...VEGA, priority: 'high', metadata: 'x', extra: true })],
    ['POST', '/v1/batches', json({ jobs: [] })],
    ['POST', '/v1/batches', json({ jobs: 'x', priority: 5_000 })],
    ['POST', '/v1/batches', json({ jobs: [{ model: 'segmind-vega', input: {}, colour: 1 }] })],
    ['POST', '/v1/batches?priority=abc&webhook_events=nope', ndjson([JSON.stringify(VEGA)])],
    ['POST', '/v1/batches', ndjson(['{"model": "segmind-vega"}', '{"model": "segmind-vega", "input": {"seed": "x"}}'])],
    ['GET', '/v1/jobs?limit=0', {}],
    ['GET', '/v1/jobs?limit=abc&status=nope', {}],
    ['GET', '/v1/jobs?created_after=yesterday&foo=1', {}],
    ['POST', '/v1/admin/pause', { tenant: 'operator', body: { message: 5 } }],
  ];

  it.each(BAD)('%s %s answers in sentences', async (method, path, options) => {
    const answer = await api.call(method, path, options);
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
    const problem = answer.json() as { detail: string; errors?: { message: string }[] };
    const messages = [problem.detail, ...(problem.errors ?? []).map((issue) => issue.message)];
    expect(problem.errors?.length ?? 0, JSON.stringify(problem)).toBeGreaterThan(0);
    for (const message of messages) expect(message, JSON.stringify(problem)).not.toMatch(LIBRARY_WORDS);
  });
});
