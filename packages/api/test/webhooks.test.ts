// The API's side of webhooks: URLs refused at enqueue (SSRF), event filters, and the
// delivery records and redelivery routes — against a running server and real Redis.
import { jobKey } from '@renderq/shared/keys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { urlsOfJob } from '../src/services/url-guard.js';
import { type Answer, startApi, type TestApi, VEGA } from './server.js';

const SECRET = `whsec_${Buffer.from('renderq api test webhook secret!').toString('base64')}`;
const PRIVATE_URLS = [
  'http://127.0.0.1/hook',
  'http://10.0.0.1/hook',
  'http://169.254.169.254/latest/meta-data',
  'http://[::1]:8080/hook',
  'http://localhost:9000/hook',
  'http://[::ffff:127.0.0.1]/hook',
];

/** Hosts that passed the guard once, or that a parser spells differently from how it is written. */
const BYPASS_URLS = [
  'http://[::127.0.0.1]/hook',
  'http://[2002:7f00:1::1]/hook',
  'http://[64:ff9b::7f00:1]/hook',
  'http://[64:ff9b:1::7f00:1]/hook',
  'http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook',
  'http://[::FFFF:7F00:1]/hook',
  'http://2130706433/hook',
  'http://0x7f.1/hook',
  'http://127.1/hook',
  'http://localhost./hook',
  'http://foo.localhost/hook',
];

function expectRefused(answer: Answer, path: string): void {
  expect(answer.status).toBe(400);
  expect(answer.headers.get('content-type')).toContain('application/problem+json');
  const errors = answer.json().errors as { path: string; message: string }[];
  expect(errors).toEqual([expect.objectContaining({ path, message: expect.stringMatching(/private address/) })]);
}

describe('the URLs of a job', () => {
  it('finds every http(s) URL a fetcher would take, nested ones included', () => {
    const input = {
      prompt: 'a lighthouse',
      image: 'https://images.example/a.png',
      loose: ' HTTP:\\\\127.0.0.1/x',
      short: 'http:/10.0.0.1/x',
      refs: ['data:image/png;base64,AAAA', { url: 'http://[::1]/y' }],
      scheme: 'ftp://files.example/z',
    };
    expect(urlsOfJob(input, 'https://hooks.example/h')).toEqual([
      { path: 'webhook_url', url: 'https://hooks.example/h' },
      { path: 'input.image', url: 'https://images.example/a.png' },
      { path: 'input.loose', url: ' HTTP:\\\\127.0.0.1/x' },
      { path: 'input.short', url: 'http:/10.0.0.1/x' },
      { path: 'input.refs[1].url', url: 'http://[::1]/y' },
    ]);
  });
});

describe('webhooks at enqueue', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi({ WEBHOOK_SECRET: SECRET });
  });
  afterAll(async () => api?.close());

  it.each(PRIVATE_URLS)('refuses the webhook_url %s, naming the field', async (url) => {
    expectRefused(await api.call('POST', '/v1/jobs', { body: { ...VEGA, webhook_url: url } }), 'webhook_url');
  });

  it('refuses private webhook URLs of batches (JSON and NDJSON) and private input images, enqueueing nothing', async () => {
    const json = await api.call('POST', '/v1/batches', {
      body: { jobs: [VEGA], webhook_url: 'http://169.254.169.254/x' },
    });
    expectRefused(json, 'webhook_url');
    const ndjson = await api.call('POST', '/v1/batches?webhook_url=http://10.0.0.1/x', {
      raw: `${JSON.stringify(VEGA)}\n`,
      headers: { 'content-type': 'application/x-ndjson' },
    });
    expectRefused(ndjson, 'webhook_url');
    const image = await api.call('POST', '/v1/jobs', {
      body: { model: 'ssd-img2img', input: { prompt: 'x', image: 'http://127.0.0.1:9000/in.png' } },
    });
    expectRefused(image, 'input.image');
    const inBatch = await api.call('POST', '/v1/batches', {
      body: { jobs: [VEGA, { model: 'sd1.5-img2img', input: { prompt: 'x', image: 'http://[::1]/in.png' } }] },
    });
    expect(inBatch.status).toBe(400);
    expect(inBatch.json().errors).toEqual([
      expect.objectContaining({ index: 1, path: 'input.image', message: expect.stringMatching(/private address/) }),
    ]);
    expect(await api.redis.keys(jobKey(api.prefix, '*'))).toEqual([]);
  });

  it.each(BYPASS_URLS)('refuses %s as webhook_url and as an input image, enqueueing nothing', async (url) => {
    expectRefused(await api.call('POST', '/v1/jobs', { body: { ...VEGA, webhook_url: url } }), 'webhook_url');
    const image = await api.call('POST', '/v1/jobs', {
      body: { model: 'sd1.5-img2img', input: { prompt: 'x', image: url } },
    });
    expectRefused(image, 'input.image');
    expect(await api.redis.keys(jobKey(api.prefix, '*'))).toEqual([]);
  });

  it('refuses a bracketed IPv6 host with a zone id, naming the field', async () => {
    const url = 'http://[fe80::1%25eth0]/hook';
    const hook = await api.call('POST', '/v1/jobs', { body: { ...VEGA, webhook_url: url } });
    expect(hook.status).toBe(400);
    expect(hook.json().errors).toEqual([expect.objectContaining({ path: 'webhook_url' })]);
    const image = await api.call('POST', '/v1/jobs', {
      body: { model: 'sd1.5-img2img', input: { prompt: 'x', image: url } },
    });
    expect(image.status).toBe(400);
    expect(image.json().errors).toEqual([expect.objectContaining({ path: 'input.image' })]);
    expect(await api.redis.keys(jobKey(api.prefix, '*'))).toEqual([]);
  });

  it('refuses URLs that URL parsers read differently (backslashes, spaces, user:password@)', async () => {
    for (const image of [
      'http://images.example\\@127.0.0.1/cat.png',
      'http://user:pass@images.example/cat.png',
      'http://images.example/a b.png',
    ]) {
      const answer = await api.call('POST', '/v1/jobs', {
        body: { model: 'sd1.5-img2img', input: { prompt: 'x', image } },
      });
      expect(answer.status, image).toBe(400);
      expect(answer.json().errors).toEqual([expect.objectContaining({ path: 'input.image' })]);
    }
    const hook = await api.call('POST', '/v1/jobs', {
      body: { ...VEGA, webhook_url: 'https://user:pass@hooks.example/x' },
    });
    expect(hook.status).toBe(400);
    expect(hook.json().errors).toEqual([
      expect.objectContaining({ path: 'webhook_url', message: expect.stringContaining('parsers disagree') }),
    ]);
    expect(await api.redis.keys(jobKey(api.prefix, '*'))).toEqual([]);
  });

  it('accepts a public or not-yet-resolvable host (it is checked again at delivery)', async () => {
    for (const url of ['http://93.184.216.34/hook', 'https://hooks.example/unresolvable']) {
      expect((await api.call('POST', '/v1/jobs', { body: { ...VEGA, webhook_url: url } })).status).toBe(202);
    }
  });

  it("echoes a job's webhook_url (secret query values redacted), webhook_events and priority", async () => {
    const created = await api.call('POST', '/v1/jobs', {
      body: {
        ...VEGA,
        webhook_url: 'https://hooks.example/in?token=s3cret&order=42',
        webhook_events: ['job.failed'],
        priority: 7,
      },
    });
    expect(created.status).toBe(202);
    const expected = {
      webhook_url: 'https://hooks.example/in?token=REDACTED&order=42',
      webhook_events: ['job.failed'],
      priority: 7,
    };
    expect(created.json()).toMatchObject(expected);
    expect((await api.call('GET', `/v1/jobs/${created.json().id}`)).json()).toMatchObject(expected);
    // A batch's job shows the batch's webhook when it sends job events to it, and none when only batch.completed goes.
    for (const [events, shown] of [
      [
        ['job.completed', 'batch.completed'],
        { webhook_url: 'https://hooks.example/b', webhook_events: ['job.completed'] },
      ],
      [['batch.completed'], { webhook_url: null, webhook_events: null }],
    ] as const) {
      const batch = await api.call('POST', '/v1/batches', {
        body: { jobs: [VEGA], webhook_url: 'https://hooks.example/b', webhook_events: events },
      });
      const [first] = batch.json().jobs as { id: string }[];
      expect((await api.call('GET', `/v1/jobs/${first?.id}`)).json()).toMatchObject({ ...shown, priority: 10 });
    }
  });

  it('checks webhook_events', async () => {
    const unknown = await api.call('POST', '/v1/jobs', {
      body: { ...VEGA, webhook_url: 'https://hooks.example/a', webhook_events: ['job.exploded'] },
    });
    expect(unknown.status).toBe(400);
    expect((unknown.json().errors as { path: string }[])[0]?.path).toBe('webhook_events[0]');
    const batchOnly = await api.call('POST', '/v1/jobs', {
      body: { ...VEGA, webhook_url: 'https://hooks.example/a', webhook_events: ['batch.completed'] },
    });
    expect(batchOnly.status).toBe(400);
    const repeated = await api.call('POST', '/v1/batches', {
      body: { jobs: [VEGA], webhook_url: 'https://hooks.example/a', webhook_events: ['job.failed', 'job.failed'] },
    });
    expect(repeated.status).toBe(400);
    const ndjson = await api.call(
      'POST',
      '/v1/batches?webhook_url=https://hooks.example/b&webhook_events=job.failed,batch.completed',
      { raw: `${JSON.stringify(VEGA)}\n`, headers: { 'content-type': 'application/x-ndjson' } },
    );
    expect(ndjson.status).toBe(202);
    const batch = await api.store.getBatch(ndjson.json().id as string);
    expect(batch?.webhook_events).toEqual(['job.failed', 'batch.completed']);
  });
});

describe('webhook deliveries', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi({ WEBHOOK_SECRET: SECRET });
  });
  afterAll(async () => api?.close());

  it('lists a job’s event with its attempts, to its own tenant only, and redelivers it', async () => {
    const created = await api.call('POST', '/v1/jobs', { body: { ...VEGA, webhook_url: 'https://hooks.example/a' } });
    const id = created.json().id as string;
    // Before the job finishes there is nothing to send.
    expect((await api.call('GET', `/v1/jobs/${id}/webhook-deliveries`)).json()).toEqual({ events: [] });
    expect((await api.call('POST', `/v1/jobs/${id}/webhook-deliveries/redeliver`)).status).toBe(409);

    await api.complete(id);
    const listed = await api.call('GET', `/v1/jobs/${id}/webhook-deliveries`);
    expect(listed.status).toBe(200);
    expect(listed.json()).toEqual({
      events: [
        {
          id: `evt_${id}_completed`,
          type: 'job.completed',
          url: 'https://hooks.example/a',
          status: 'pending',
          created_at: expect.any(String),
          next_attempt_at: expect.any(String),
          attempts: [],
        },
      ],
    });
    expect((await api.call('GET', `/v1/jobs/${id}/webhook-deliveries`, { tenant: 'globex' })).status).toBe(404);
    expect((await api.call('POST', `/v1/jobs/${id}/redeliver`, { tenant: 'globex' })).status).toBe(404);

    const redelivered = await api.call('POST', `/v1/jobs/${id}/redeliver`);
    expect(redelivered.status).toBe(202);
    expect(redelivered.json().events).toMatchObject([{ id: `evt_${id}_completed`, status: 'pending' }]);
    // One redelivery a minute: a loop of redeliveries does not make the workers a POST source.
    const again = await api.call('POST', `/v1/jobs/${id}/webhook-deliveries/redeliver`);
    expect(again.status).toBe(429);
    expect(Number(again.headers.get('retry-after'))).toBeGreaterThan(50);
    expect(again.json().detail).toContain('redelivered moments ago');
  });

  it('records job.cancelled when the API cancels a job, and batch.completed under the batch', async () => {
    const created = await api.call('POST', '/v1/batches', {
      body: { jobs: [VEGA, VEGA], webhook_url: 'https://hooks.example/batch' },
    });
    const batchId = created.json().id as string;
    const cancelled = await api.call('POST', `/v1/batches/${batchId}/cancel`);
    expect(cancelled.status).toBe(200);
    const batchEvents = (await api.call('GET', `/v1/batches/${batchId}/webhook-deliveries`)).json();
    expect(batchEvents).toMatchObject({ events: [{ id: `evt_${batchId}_completed`, type: 'batch.completed' }] });
    const jobIds = await api.store.batchJobIds(batchId, 0, 10);
    const jobEvents = (await api.call('GET', `/v1/jobs/${jobIds[0]}/webhook-deliveries`)).json();
    expect(jobEvents).toMatchObject({ events: [{ type: 'job.cancelled', url: 'https://hooks.example/batch' }] });
    expect((await api.call('GET', `/v1/batches/${batchId}/webhook-deliveries`, { tenant: 'globex' })).status).toBe(404);
  });

  it('answers 409 to redeliver when a job has no webhook', async () => {
    const created = await api.call('POST', '/v1/jobs', { body: VEGA });
    const id = created.json().id as string;
    await api.complete(id);
    const answer = await api.call('POST', `/v1/jobs/${id}/redeliver`);
    expect(answer.status).toBe(409);
    expect(answer.json().detail).toMatch(/no webhook event/);
  });
});

describe('webhooks off (no WEBHOOK_SECRET)', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi({});
  });
  afterAll(async () => api?.close());

  it('accepts webhook_url, records no events, and says why on redeliver', async () => {
    const created = await api.call('POST', '/v1/jobs', { body: { ...VEGA, webhook_url: 'https://hooks.example/a' } });
    expect(created.status).toBe(202);
    const id = created.json().id as string;
    await api.complete(id);
    expect((await api.call('GET', `/v1/jobs/${id}/webhook-deliveries`)).json()).toEqual({ events: [] });
    const answer = await api.call('POST', `/v1/jobs/${id}/redeliver`);
    expect(answer.status).toBe(409);
    expect(answer.json().detail).toMatch(/WEBHOOK_SECRET/);
  });
});
